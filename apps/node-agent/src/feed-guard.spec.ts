import { describe, expect, it } from 'vitest';
import type { Endpoints, Service } from '@svcnet/model';
import { checkEndpoints, checkService } from './feed-guard.js';

function svc(patch: { name?: string; namespace?: string; spec?: Partial<Service['spec']> } = {}): Service {
  return {
    metadata: { namespace: patch.namespace ?? 'default', name: patch.name ?? 'web', uid: 'u', labels: {}, annotations: {}, resourceVersion: 1 },
    spec: {
      type: 'ClusterIP',
      clusterIP: '10.96.0.10',
      clusterIPs: ['10.96.0.10'],
      ipFamilies: ['IPv4'],
      ports: [{ name: '', protocol: 'TCP', port: 80, targetPort: 8080, nodePort: 0 }],
      selector: { app: 'web' },
      sessionAffinity: 'None',
      sessionAffinityTimeoutSeconds: 0,
      externalTrafficPolicy: 'Cluster',
      internalTrafficPolicy: 'Cluster',
      externalIPs: [],
      ...patch.spec,
    },
  };
}

describe('checkService', () => {
  const port = { name: '', protocol: 'TCP' as const, port: 80, targetPort: 8080, nodePort: 0 };
  const cases: { name: string; obj: Service; key?: string; problem: RegExp | undefined }[] = [
    { name: 'a normal service', obj: svc(), problem: undefined },
    { name: 'headless', obj: svc({ spec: { clusterIP: 'None', clusterIPs: ['None'] } }), problem: undefined },
    { name: 'NodePort', obj: svc({ spec: { type: 'NodePort', ports: [{ ...port, nodePort: 30080 }] } }), problem: undefined },
    { name: 'name does not match the key', obj: svc({ name: 'other' }), key: 'services.default.web', problem: /does not match its key/ },
    { name: 'key of another kind', obj: svc(), key: 'pods.default.web', problem: /not a Service key/ },
    { name: 'key that is no key', obj: svc(), key: 'garbage', problem: /not a Service key/ },
    { name: 'empty names (junk decoded to defaults)', obj: svc({ name: '', namespace: '' }), key: 'services.default.junk', problem: /does not match/ },
    { name: 'invalid cluster IP', obj: svc({ spec: { clusterIP: 'not-an-ip' } }), problem: /invalid clusterIP/ },
    { name: 'invalid clusterIPs entry', obj: svc({ spec: { clusterIPs: ['10.96.0.300'] } }), problem: /clusterIPs/ },
    { name: 'invalid external IP', obj: svc({ spec: { externalIPs: ['x'] } }), problem: /externalIP/ },
    { name: 'port 0', obj: svc({ spec: { ports: [{ ...port, port: 0 }] } }), problem: /port 0 out of range/ },
    { name: 'port too high', obj: svc({ spec: { ports: [{ ...port, port: 70000 }] } }), problem: /out of range/ },
    { name: 'node port too high', obj: svc({ spec: { ports: [{ ...port, nodePort: 65536 }] } }), problem: /nodePort/ },
    { name: 'unknown protocol', obj: svc({ spec: { ports: [{ ...port, protocol: 'ICMP' as 'TCP' }] } }), problem: /protocol/ },
    { name: 'port name with a quote (rule comment injection)', obj: svc({ spec: { ports: [{ ...port, name: 'a" -j ACCEPT' }] } }), problem: /name/ },
    { name: 'a source range that injects rule text', obj: svc({ spec: { type: 'LoadBalancer', loadBalancerSourceRanges: ['10.0.0.0/8 drop'] } }), problem: /loadBalancerSourceRanges/ },
    { name: 'an ingress IP that is no IP', obj: { ...svc({ spec: { type: 'LoadBalancer' } }), status: { loadBalancer: { ingress: [{ ip: '1.2.3' }] } } }, problem: /ingress IP/ },
    { name: 'a LoadBalancer with ranges and an ingress IP', obj: { ...svc({ spec: { type: 'LoadBalancer', loadBalancerSourceRanges: ['192.0.2.0/24'] } }), status: { loadBalancer: { ingress: [{ ip: '203.0.113.9' }] } } }, problem: undefined },
    { name: 'duplicate port names', obj: svc({ spec: { ports: [port, { ...port, port: 81 }] } }), problem: /duplicated/ },
    { name: 'affinity timeout too long', obj: svc({ spec: { sessionAffinityTimeoutSeconds: 100_000 } }), problem: /timeout/ },
  ];
  it.each(cases)('$name', ({ obj, key, problem }) => {
    const got = checkService(obj, key ?? `services.${obj.metadata.namespace}.${obj.metadata.name}`);
    if (problem) expect(got).toMatch(problem);
    else expect(got).toBeUndefined();
  });
});

describe('checkEndpoints', () => {
  const ep = (ip: string, port: number): Endpoints => ({
    metadata: { namespace: 'default', name: 'web', uid: 'u', labels: {}, annotations: {}, resourceVersion: 1 },
    subsets: [{ addresses: [{ ip, nodeName: 'node1', ready: true, serving: true, terminating: false }], ports: [{ name: '', port, protocol: 'TCP' }] }],
  });
  const cases = [
    { name: 'valid', obj: ep('10.244.1.2', 8080), problem: undefined },
    { name: 'bad address', obj: ep('10.244.1.x', 8080), problem: /address/ },
    { name: 'bad port', obj: ep('10.244.1.2', 0), problem: /port/ },
  ];
  it.each(cases)('$name', ({ obj, problem }) => {
    const got = checkEndpoints(obj, 'endpoints.default.web');
    if (problem) expect(got).toMatch(problem);
    else expect(got).toBeUndefined();
  });
  it('refuses an endpoints object under a service key', () => {
    expect(checkEndpoints(ep('10.244.1.2', 8080), 'services.default.web')).toMatch(/not a Endpoints key/);
  });
});
