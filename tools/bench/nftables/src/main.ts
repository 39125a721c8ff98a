/**
 * nftables backend benchmark (root; a throw-away network namespace
 * nft-bench-<random>). Prints render time, the first sync (the table replaced)
 * vs a bare `nft -f` of the same text, and a sync after one service changed
 * (the incremental transaction that keeps affinity sets) vs the bare load.
 *
 *   node tools/bench/nftables/dist/main.cjs [--services 10000] [--endpoints 5]
 */
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { ProcessNetExec } from '@svcnet/netexec';
import type { EndpointInfo, NodeConfig, ProxyState, ServicePortInfo } from '@svcnet/proxy-core';
import { NftablesBackend, renderNftPlan, replaceScript, updateScript } from '@svcnet/backend-nftables';
import { NetnsLab } from '@svcnet/testing';

const CONFIG: NodeConfig = { nodeName: 'node-0', nodeIPs: ['192.168.77.1'], clusterCIDR: '10.64.0.0/10', masqueradeAll: false, nodePortAddresses: [] };

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

/** `count` ClusterIP services (port 80, every 10th also a NodePort), `perService` endpoints each over 4 nodes. */
function state(count: number, perService: number, changed = -1): ProxyState {
  const services = new Map<string, ServicePortInfo>();
  const endpoints = new Map<string, EndpointInfo[]>();
  for (let k = 0; k < count; k++) {
    const id = `bench/svc-${k}:http`;
    services.set(id, {
      id,
      namespace: 'bench',
      name: `svc-${k}`,
      portName: 'http',
      protocol: 'TCP',
      clusterIP: `10.96.${(k >> 8) & 255}.${k & 255}`,
      port: 80,
      nodePort: k % 10 === 0 ? 30000 + (k / 10) : 0,
      externalIPs: [],
      sessionAffinity: { kind: 'None' },
      externalPolicyLocal: false,
      internalPolicyLocal: false,
    });
    const eps: EndpointInfo[] = [];
    for (let e = 0; e < perService + (k === changed ? 1 : 0); e++) {
      const n = k * (perService + 1) + e;
      const node = `node-${n % 4}`;
      eps.push({ ip: `10.${100 + ((n >> 16) & 63)}.${(n >> 8) & 255}.${n & 255}`, port: 8080, nodeName: node, isLocal: node === CONFIG.nodeName, ready: true, serving: true, terminating: false });
    }
    endpoints.set(id, eps);
  }
  return { services, endpoints };
}

const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the benchmark needs root (network namespaces)');
  const count = Number(arg('services', '10000'));
  const perService = Number(arg('endpoints', '5'));
  const exec = new ProcessNetExec();
  const lab = new NetnsLab({ prefix: `nft-bench-${randomBytes(3).toString('hex')}` });
  try {
    const [a, b] = [await lab.addNamespace('a'), await lab.addNamespace('b')];
    let t = performance.now();
    const plan = renderNftPlan(state(count, perService), CONFIG, true);
    const renderMs = performance.now() - t;
    const chains = plan.chains.size;
    t = performance.now();
    const text = replaceScript(plan);
    const textMs = performance.now() - t;
    t = performance.now();
    await exec.run({ file: 'nft', args: ['-f', '-'], input: text, netns: a, timeoutMs: 600_000 });
    const bareMs = performance.now() - t;

    const backend = new NftablesBackend({ exec, netns: b, timeoutMs: 600_000 });
    t = performance.now();
    await backend.apply(plan);
    const firstMs = performance.now() - t;
    t = performance.now();
    const next = renderNftPlan(state(count, perService, 7), CONFIG, false, plan, new Set(['bench/svc-7:http']));
    const renderNextMs = performance.now() - t;
    t = performance.now();
    await backend.apply(next);
    const oneMs = performance.now() - t;
    const partialBytes = updateScript(plan, next).length;
    t = performance.now();
    const drift = await backend.detectDrift(next);
    const driftMs = performance.now() - t;

    console.log(`nftables backend, ${count} services × ${perService} endpoints: ${chains} chains, ${(plan.table.length / 1e6).toFixed(1)} MB of nft input`);
    console.log(`render: ${renderMs.toFixed(0)} ms + table text ${textMs.toFixed(0)} ms; partial render after one change (the others reused): ${renderNextMs.toFixed(0)} ms`);
    console.log(`first sync (table replaced): ${secs(firstMs)} vs bare nft -f of the same text ${secs(bareMs)} = ${(firstMs / bareMs).toFixed(2)}×`);
    console.log(`sync after one service changed (partial: ${partialBytes} bytes of nft input): ${secs(oneMs)} = ${(oneMs / bareMs).toFixed(2)}× the bare load`);
    console.log(`drift check (chain names, map sizes, fixed chains): ${driftMs.toFixed(0)} ms, drift=${drift}`);
    console.log(`load average: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  } finally {
    await lab.cleanup();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
