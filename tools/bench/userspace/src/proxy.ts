/** The svcnet side of the benchmark: a UserspaceBackend serving two services, as the agent would. */
import { UserspaceBackend } from '@svcnet/backend-userspace';
import { ProcessNetExec } from '@svcnet/netexec';
import type { EndpointInfo, ServicePortInfo } from '@svcnet/proxy-core';

export interface BenchService {
  id: string;
  clusterIP: string;
  port: number;
  endpoint: { ip: string; port: number };
}

export async function runProxy(params: { nodeIP: string; services: BenchService[] }): Promise<void> {
  const backend = new UserspaceBackend({ exec: new ProcessNetExec() });
  const services = new Map<string, ServicePortInfo>();
  const endpoints = new Map<string, EndpointInfo[]>();
  for (const s of params.services) {
    const [namespace, rest] = s.id.split('/') as [string, string];
    const [name, portName] = rest.split(':') as [string, string];
    services.set(s.id, {
      id: s.id, namespace, name, portName, protocol: 'TCP', clusterIP: s.clusterIP, port: s.port, nodePort: 0,
      externalIPs: [], loadBalancerIPs: [], loadBalancerSourceRanges: [], healthCheckNodePort: 0, sessionAffinity: { kind: 'None' }, externalPolicyLocal: false, internalPolicyLocal: false,
    });
    endpoints.set(s.id, [{ ...s.endpoint, nodeName: 'n', isLocal: true, ready: true, serving: true, terminating: false }]);
  }
  const config = { nodeName: 'n', nodeIPs: [params.nodeIP], clusterCIDR: '', masqueradeAll: false, nodePortAddresses: [] };
  const plan = backend.render({ state: { services, endpoints }, config, full: true, changed: new Set(), lastApplied: undefined });
  await backend.apply(plan);
  process.stdout.write(JSON.stringify({ ready: true, ports: Object.fromEntries(backend.proxyPorts()) }) + '\n');
  process.once('SIGTERM', () => {
    backend.cleanup().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`cleanup failed: ${String(err)}\n`);
        process.exit(1);
      },
    );
  });
}
