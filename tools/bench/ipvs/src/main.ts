/**
 * IPVS mode benchmark, inside the emulated IPVS VM (tools/ipvs-vm):
 * N services × 5 endpoints, for N in IPVS_BENCH_SIZES (default 1000,5000).
 *   full sync         : a fresh IpvsBackend applying everything to an empty kernel
 *                       (reads included) vs bare `ipvsadm -R` + `ipset restore` of the
 *                       same virtual services and set members;
 *   one-service change: one endpoint of one service replaced (incremental sync) vs the
 *                       bare `ipvsadm -R` of the same lines;
 *   one service added : vs bare `ipvsadm -R` + `ipset restore` of its lines.
 * Both sides go through the same VM command channel, so the per-call cost of the
 * emulated VM (fork/exec under TCG) counts alike. Medians of IPVS_BENCH_ROUNDS rounds.
 * Run as root from the repo root: npx nx run bench-ipvs:bench
 */
import { IpvsBackend, IPVS_DUMMY_LINK, type IpvsPlan } from '@svcnet/backend-ipvs';
import type { EndpointInfo, NodeConfig, ProxyState, ServicePortInfo } from '@svcnet/proxy-core';
import { startIpvsVm, type IpvsVmHandle } from '@svcnet/testing';

const SIZES = (process.env['IPVS_BENCH_SIZES'] ?? '1000,5000').split(',').map(Number);
const ROUNDS = Number(process.env['IPVS_BENCH_ROUNDS'] ?? 3);
/** One ipvsadm -R of 30k lines takes minutes under emulation. */
const CALL_TIMEOUT_MS = 1_800_000;
const config: NodeConfig = { nodeName: 'vm', nodeIPs: ['10.0.2.1'], clusterCIDR: '10.244.0.0/16', masqueradeAll: false, nodePortAddresses: [] };

function ipOf(base: number, i: number): string {
  return `10.${base + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
}

function makeState(n: number): { services: Map<string, ServicePortInfo>; endpoints: Map<string, EndpointInfo[]> } {
  const services = new Map<string, ServicePortInfo>();
  const endpoints = new Map<string, EndpointInfo[]>();
  for (let i = 0; i < n; i++) {
    const id = `bench/s${i}:`;
    services.set(id, {
      id, namespace: 'bench', name: `s${i}`, portName: '', protocol: 'TCP', clusterIP: ipOf(96, i + 1), port: 80, nodePort: 0,
      externalIPs: [], loadBalancerIPs: [], loadBalancerSourceRanges: [], healthCheckNodePort: 0, sessionAffinity: { kind: 'None' }, externalPolicyLocal: false, internalPolicyLocal: false,
    });
    endpoints.set(id, Array.from({ length: 5 }, (_, k) => ({
      ip: ipOf(200, i * 5 + k + 1), port: 8080, nodeName: 'other', isLocal: false, ready: true, serving: true, terminating: false,
    })));
  }
  return { services, endpoints };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function timed(f: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await f();
  return performance.now() - t;
}

/** The ipvsadm -R and ipset restore sections of describe(): what a bare restore of the plan runs. */
function bareInputs(backend: IpvsBackend, plan: IpvsPlan): { ipvs: string; ipset: string } {
  const text = backend.describe(plan);
  const section = (name: string): string => {
    const lines = text.split('\n');
    const start = lines.indexOf(`# ${name}`);
    const end = lines.findIndex((l, i) => i > start && l.startsWith('# '));
    return lines.slice(start + 1, end < 0 ? undefined : end).join('\n') + '\n';
  };
  return { ipvs: section('ipvsadm -R'), ipset: section('ipset restore') };
}

async function bare(vm: IpvsVmHandle, ipvs: string, ipset: string): Promise<number> {
  return timed(async () => {
    if (ipset.trim()) await vm.exec.run({ file: 'ipset', args: ['-exist', 'restore'], input: ipset, timeoutMs: CALL_TIMEOUT_MS });
    if (ipvs.trim()) await vm.exec.run({ file: 'ipvsadm', args: ['-R'], input: ipvs, timeoutMs: CALL_TIMEOUT_MS });
  });
}

async function wipe(vm: IpvsVmHandle): Promise<void> {
  await new IpvsBackend({ exec: vm.exec, config, timeoutMs: CALL_TIMEOUT_MS }).cleanup();
  await vm.exec.run({ file: 'ipvsadm', args: ['-C'] });
}

async function benchSize(vm: IpvsVmHandle, n: number): Promise<Record<string, number>> {
  const base = makeState(n);
  const k = Math.floor(n / 2);
  const changedId = `bench/s${k}:`;
  // s1 = base + one service; s2 = s1 with one endpoint of one service replaced.
  const extraId = 'bench/extra:';
  const extra = ipOf(99, 1);
  const s1: ProxyState = {
    services: new Map(base.services).set(extraId, { ...base.services.get(changedId)!, id: extraId, name: 'extra', clusterIP: extra }),
    endpoints: new Map(base.endpoints).set(extraId, base.endpoints.get(changedId)!),
  };
  const replaced = [...base.endpoints.get(changedId)!];
  const oldIp = replaced[4]!.ip;
  replaced[4] = { ...replaced[4]!, ip: ipOf(250, 1) };
  const s2: ProxyState = { services: s1.services, endpoints: new Map(s1.endpoints).set(changedId, replaced) };
  const r: Record<string, number[]> = {
    oursFull: [], bareFull: [], oursChange: [], bareChange: [], oursAdd: [], bareAdd: [], bareAddBound: [], fullCalls: [], changeCalls: [], addCalls: [], changeRender: [], addRender: [],
  };
  for (let round = 0; round < ROUNDS; round++) {
    await wipe(vm);
    const b = new IpvsBackend({ exec: vm.exec, config, timeoutMs: CALL_TIMEOUT_MS });
    let last: IpvsPlan | undefined;
    // A sync is render + apply: both count (the host-side work is what O(change) is about).
    const step = async (state: ProxyState, full: boolean, changed: string[]): Promise<{ ms: number; calls: number; renderMs: number }> => {
      let calls = 0;
      let renderMs = 0;
      const ms = await timed(async () => {
        const t = performance.now();
        const plan = b.render({ state, config, full, changed: new Set(changed), lastApplied: last });
        renderMs = performance.now() - t;
        calls = (await b.apply(plan)).calls;
        last = plan;
      });
      return { ms, calls, renderMs };
    };
    const full = await step(base, true, []);
    const fullPlan = last!;
    const add = await step(s1, false, [extraId]);
    const change = await step(s2, false, [changedId]);
    r['oursFull']!.push(full.ms);
    r['fullCalls']!.push(full.calls);
    r['oursAdd']!.push(add.ms);
    r['addCalls']!.push(add.calls);
    r['oursChange']!.push(change.ms);
    r['changeRender']!.push(change.renderMs);
    r['addRender']!.push(add.renderMs);
    r['changeCalls']!.push(change.calls);

    await wipe(vm);
    const inputs = bareInputs(b, fullPlan);
    r['bareFull']!.push(await bare(vm, inputs.ipvs, inputs.ipset));
    const reals = base.endpoints.get(changedId)!.map((e) => `-a -t ${extra}:80 -r ${e.ip}:8080 -m -w 1`).join('\n');
    r['bareAdd']!.push(await bare(vm, `-A -t ${extra}:80 -s rr\n${reals}\n`, `add KUBE-CLUSTER-IP ${extra},tcp:80\n`));
    // The same plus binding the address (what makes the new service reachable): three calls, as ours.
    await vm.exec.run({ file: 'ipvsadm', args: ['-D', '-t', `${extra}:80`] });
    await vm.exec.run({ file: 'ipset', args: ['del', 'KUBE-CLUSTER-IP', `${extra},tcp:80`] });
    await vm.exec.run({ file: 'ip', args: ['link', 'add', IPVS_DUMMY_LINK, 'type', 'dummy'], allowFailure: true });
    r['bareAddBound']!.push(
      await timed(async () => {
        await bare(vm, `-A -t ${extra}:80 -s rr\n${reals}\n`, `add KUBE-CLUSTER-IP ${extra},tcp:80\n`);
        await vm.exec.run({ file: 'ip', args: ['-batch', '-'], input: `addr add ${extra}/32 dev ${IPVS_DUMMY_LINK}\n` });
      }),
    );
    // The same change the backend makes: the new real server, the old one to weight 0.
    const vip = base.services.get(changedId)!.clusterIP;
    r['bareChange']!.push(await bare(vm, `-a -t ${vip}:80 -r ${ipOf(250, 1)}:8080 -m -w 1\n-e -t ${vip}:80 -r ${oldIp}:8080 -m -w 0\n`, ''));
  }
  const m = Object.fromEntries(Object.entries(r).map(([key, xs]) => [key, median(xs)]));
  console.log(`  (n=${n}: one service added vs a bare add that also binds the address (3 calls): ${r['bareAddBound']!.map((x) => x.toFixed(0)).join('/')} ms, ratio of medians ${(median(r['oursAdd']!) / median(r['bareAddBound']!)).toFixed(2)}x)`);
  console.log(`  (n=${n}, every round: change ${r['oursChange']!.map((x) => x.toFixed(0)).join('/')} vs bare ${r['bareChange']!.map((x) => x.toFixed(0)).join('/')} ms; add ${r['oursAdd']!.map((x) => x.toFixed(0)).join('/')} vs bare ${r['bareAdd']!.map((x) => x.toFixed(0)).join('/')} ms; render ms change ${r['changeRender']!.map((x) => x.toFixed(1)).join('/')}, add ${r['addRender']!.map((x) => x.toFixed(1)).join('/')})`);
  return { ...m, fullRatio: m['oursFull']! / m['bareFull']!, changeRatio: m['oursChange']! / m['bareChange']!, addRatio: m['oursAdd']! / m['bareAdd']! };
}

async function main(): Promise<void> {
  const vm = await startIpvsVm({ memoryMb: 1024 });
  try {
    console.log(`IPVS VM booted in ${vm.bootSeconds.toFixed(1)} s (qemu TCG, emulated); ${ROUNDS} rounds, medians; link ${IPVS_DUMMY_LINK}`);
    const t0 = performance.now();
    await vm.exec.run({ file: 'true', args: [] });
    console.log(`channel round trip (true): ${(performance.now() - t0).toFixed(0)} ms`);
    console.log('| services × 5 ep | sync | svcnet ms (calls) | bare ipvsadm -R + ipset restore ms | ratio |');
    console.log('|---|---|---|---|---|');
    for (const n of SIZES) {
      const s = await benchSize(vm, n);
      const f = (x: number | undefined): string => (x ?? 0).toFixed(0);
      console.log(`| ${n} | full | ${f(s['oursFull'])} (${s['fullCalls']}) | ${f(s['bareFull'])} | ${s['fullRatio']!.toFixed(2)}× |`);
      console.log(`| ${n} | one endpoint replaced | ${f(s['oursChange'])} (${s['changeCalls']}) | ${f(s['bareChange'])} | ${s['changeRatio']!.toFixed(2)}× |`);
      console.log(`| ${n} | one service added | ${f(s['oursAdd'])} (${s['addCalls']}) | ${f(s['bareAdd'])} | ${s['addRatio']!.toFixed(2)}× |`);
    }
    await wipe(vm);
  } finally {
    await vm.stop();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
