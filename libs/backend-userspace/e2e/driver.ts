/**
 * A tiny process that owns one UserspaceBackend, for kernel tests and the
 * benchmark: run it inside a node namespace (`ip netns exec <ns> node driver.cjs`)
 * and send it one JSON command per line on stdin; it answers one JSON line each.
 */
import { ProcessNetExec } from '@svcnet/netexec';
import type { EndpointInfo, NodeConfig, ServicePortInfo } from '@svcnet/proxy-core';
import { createInterface } from 'node:readline';
import { Registry } from 'prom-client';
import { UserspaceBackend, type UserspacePlan } from '../src/index.js';

export type DriverCommand =
  | { cmd: 'apply'; services: ServicePortInfo[]; endpoints: Record<string, EndpointInfo[]>; full?: boolean }
  | { cmd: 'describe' | 'kernel' | 'drift' | 'metrics' | 'cleanup' | 'exit' };

const config: NodeConfig = {
  nodeName: process.env.USP_NODE_NAME ?? 'node',
  nodeIPs: (process.env.USP_NODE_IPS ?? '').split(',').filter(Boolean),
  clusterCIDR: '',
  masqueradeAll: false,
  nodePortAddresses: [],
};
const registry = new Registry();
const backend = new UserspaceBackend({
  exec: new ProcessNetExec(),
  proxyPortRange: process.env.USP_PORT_RANGE ?? '',
  metricsRegistry: registry,
  ...(process.env.USP_UDP_IDLE_MS ? { udpIdleTimeoutMs: Number(process.env.USP_UDP_IDLE_MS) } : {}),
});
let last: UserspacePlan | undefined;

async function handle(c: DriverCommand): Promise<unknown> {
  switch (c.cmd) {
    case 'apply': {
      const state = { services: new Map(c.services.map((s) => [s.id, s])), endpoints: new Map(Object.entries(c.endpoints)) };
      const plan = backend.render({ state, config, full: c.full ?? false, changed: new Set(), lastApplied: last });
      const result = await backend.apply(plan);
      last = plan;
      return { ...result, ports: Object.fromEntries(backend.proxyPorts()) };
    }
    case 'describe':
      return { text: last ? backend.describe(last) : '' };
    case 'kernel':
      return { text: await backend.readKernelState() };
    case 'drift':
      return { drift: last ? await backend.detectDrift(last) : false };
    case 'metrics':
      return { text: await registry.metrics() };
    case 'cleanup':
      await backend.cleanup();
      last = undefined;
      return {};
    case 'exit':
      setImmediate(() => process.exit(0));
      return {};
  }
}

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (!line.trim()) return;
  handle(JSON.parse(line) as DriverCommand).then(
    (r) => process.stdout.write(JSON.stringify({ ok: true, ...(r as object) }) + '\n'),
    (err: unknown) => process.stdout.write(JSON.stringify({ ok: false, error: String((err as Error).message ?? err) }) + '\n'),
  );
});
process.stdout.write(JSON.stringify({ ok: true, ready: process.pid }) + '\n');
