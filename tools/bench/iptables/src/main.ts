/**
 * iptables backend benchmark (root; everything happens in throw-away network
 * namespaces named ipt-bench-*). Prints render time, full sync vs a bare
 * iptables-restore of the same text, one added service vs a bare restore of
 * the minimal change, and the RSS of a process holding a Proxier at scale.
 *
 *   node tools/bench/iptables/dist/main.cjs [--services 10000] [--endpoints 5] [--variant legacy|nft|both] [--slow-floor]
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { ProcessNetExec } from '@svcnet/netexec';
import { Proxier, endpointsOf, servicePortsOf } from '@svcnet/proxy-core';
import type { EndpointInfo, NodeConfig, ProxyState, ServicePortInfo } from '@svcnet/proxy-core';
import { IptablesBackend, JUMP_RULES, jumpInsertLine, sectionText } from '@svcnet/backend-iptables';
import type { IptablesPlan, IptablesVariant } from '@svcnet/backend-iptables';
import { Registry } from 'prom-client';
import { workload } from './workload.js';

const exec = new ProcessNetExec();
const CONFIG: NodeConfig = { nodeName: 'node-0', nodeIPs: ['192.168.77.1'], clusterCIDR: '10.64.0.0/10', masqueradeAll: false, nodePortAddresses: [] };
const created: string[] = [];

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

async function newNs(tag: string): Promise<string> {
  const ns = `ipt-bench-${tag}-${randomBytes(3).toString('hex')}`;
  await exec.run({ file: 'ip', args: ['netns', 'add', ns] });
  created.push(ns);
  return ns;
}

async function dropNs(ns: string): Promise<void> {
  await exec.run({ file: 'ip', args: ['netns', 'del', ns], allowFailure: true });
  created.splice(created.indexOf(ns), 1);
}

function stateOf(count: number, perService: number, offset = 0): ProxyState {
  const { services, endpoints } = workload(count, perService, offset);
  const s = new Map<string, ServicePortInfo>();
  const e = new Map<string, readonly EndpointInfo[]>();
  for (const x of services) for (const [k, v] of servicePortsOf(x)) s.set(k, v);
  for (const x of endpoints) for (const [k, v] of endpointsOf(x, CONFIG.nodeName)) e.set(k, v);
  return { services: s, endpoints: e };
}

function ms(t0: number): number {
  return performance.now() - t0;
}

const fmt = (x: number) => `${(x / 1000).toFixed(2)} s`;

async function bareRestore(ns: string, variant: IptablesVariant, text: string, flags = ['--noflush'], timeoutMs = 900_000): Promise<number> {
  const t0 = performance.now();
  await exec.run({ file: `iptables-${variant}-restore`, args: ['-w', ...flags], input: text, netns: ns, timeoutMs });
  return ms(t0);
}

/** The plain --noflush floor of iptables-nft runs for minutes at 10,000 services: capped, reported as "> cap". */
const SLOW_FLOOR_CAP_MS = Number(process.env['IPT_BENCH_SLOW_FLOOR_CAP_S'] ?? 600) * 1000;

function countRules(plan: IptablesPlan): { chains: number; rules: number; bytes: number } {
  let chains = 0;
  let rules = 0;
  for (const t of [plan.nat, plan.filter]) {
    for (const lines of t.values()) {
      chains++;
      rules += lines.length;
    }
  }
  return { chains, rules, bytes: Buffer.byteLength(plan.restore) };
}

/** The bare restore input of a first sync: our chains plus the jump rules, optionally listing the table first. */
function firstSyncText(plan: IptablesPlan, listTableFirst: boolean): string {
  return (['nat', 'filter'] as const)
    .map((t) => sectionText(t, plan.sections[t], { jumps: JUMP_RULES.filter((j) => j.table === t).map(jumpInsertLine), listTableFirst }))
    .join('');
}

/** Bare floors of a first sync, each into its own empty namespace. */
async function bareFirstSync(variant: IptablesVariant, plan: IptablesPlan): Promise<number[]> {
  const times: number[] = [];
  const runs: [string, string, string[]][] = [
    ['bare restore --noflush', firstSyncText(plan, false), ['--noflush']],
    ['bare restore (no --noflush: replaces whole tables, not usable next to other programs)', firstSyncText(plan, false), []],
  ];
  if (variant === 'nft') runs.push(['bare restore --noflush, table listed first (-S)', firstSyncText(plan, true), ['--noflush']]);
  if (variant === 'nft' && !process.argv.includes('--slow-floor')) runs.shift();
  for (const [label, text, flags] of runs) {
    const ns = await newNs('bare');
    const capped = variant === 'nft' && flags.length === 1 && !text.includes('\n-S\n');
    try {
      const t = await bareRestore(ns, variant, text, flags, capped ? SLOW_FLOOR_CAP_MS : undefined).catch((err: unknown) => {
        if (!capped) throw err;
        return undefined;
      });
      if (t !== undefined) times.push(t);
      console.log(`first sync floor: ${label}: ${t === undefined ? `> ${fmt(SLOW_FLOOR_CAP_MS)} (stopped)` : fmt(t)}`);
    } finally {
      await dropNs(ns);
    }
  }
  return times;
}

async function benchVariant(variant: IptablesVariant, count: number, perService: number): Promise<void> {
  console.log(`\n== iptables-${variant}: ${count} services x ${perService} endpoints (load average ${loadavg()[0]!.toFixed(1)}) ==`);
  const state = stateOf(count, perService);
  const backend = new IptablesBackend({ exec, variant, netns: await newNs('ours'), conntrack: false });
  const nsOurs = created.at(-1)!;
  try {
    const renders: string[] = [];
    let plan: IptablesPlan | undefined;
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      plan = backend.render({ state, config: CONFIG, full: true, changed: new Set(), lastApplied: undefined });
      const cpu = process.cpuUsage(c0);
      renders.push(`${ms(t0).toFixed(0)} ms wall (${((cpu.user + cpu.system) / 1000).toFixed(0)} ms CPU)`);
    }
    const size = countRules(plan!);
    console.log(`rules: ${size.chains} chains, ${size.rules} rules, ${(size.bytes / 1e6).toFixed(1)} MB restore input`);
    console.log(`render (full; 1st cold, then with name caches): ${renders.join(' / ')}`);
    const floors = await bareFirstSync(variant, plan!);

    const t0 = performance.now();
    const full = backend.render({ state, config: CONFIG, full: true, changed: new Set(), lastApplied: undefined });
    const renderMs = ms(t0);
    const applied = await backend.apply(full);
    const ours = renderMs + applied.durationMs;
    const best = Math.min(...floors);
    console.log(
      `first sync, ours: ${fmt(ours)} (render ${renderMs.toFixed(0)} ms + apply ${fmt(applied.durationMs)}, ${applied.calls} calls) | ratio to the fastest floor ${(ours / best).toFixed(2)}x (target <= 20 s)`,
    );
    await benchChanges({ variant, backend, state, full, count, perService });
  } finally {
    await dropNs(nsOurs);
  }
}

/** One added service (vs the bare minimal change), a full resync over the same rules, and drift checks. */
async function benchChanges(p: { variant: IptablesVariant; backend: IptablesBackend; state: ProxyState; full: IptablesPlan; count: number; perService: number }): Promise<void> {
  const { variant, backend, count, perService } = p;
  const nsBare = await newNs('bare');
  try {
    // The bare namespace gets the same rules first, so the minimal changes below land on an equal table.
    await bareRestore(nsBare, variant, firstSyncText(p.full, variant === 'nft'));
    let current = p.full;
    let grownState = p.state;
    const oursTimes: number[] = [];
    const bareTimes: number[] = [];
    let detail = '';
    for (let i = 0; i < 3; i++) {
      const extra = stateOf(1, perService, count + i);
      grownState = {
        services: new Map([...grownState.services, ...extra.services]),
        endpoints: new Map([...grownState.endpoints, ...extra.endpoints]),
      };
      const id = [...extra.services.keys()][0]!;
      const t1 = performance.now();
      const partial = backend.render({ state: grownState, config: CONFIG, full: false, changed: new Set([id]), lastApplied: current });
      const partialRender = ms(t1);
      const partialApply = await backend.apply(partial);
      current = partial;
      oursTimes.push(partialRender + partialApply.durationMs);
      detail = `render ${partialRender.toFixed(0)} ms + apply ${fmt(partialApply.durationMs)}, ${partial.writtenChains} chains written`;
      // The minimal change by hand: the new service's chains plus one KUBE-SERVICES rule.
      const frag = partial.fragments.get(id)!;
      const minimal = [
        '*nat',
        ...[...frag.chains.keys()].map((c) => `:${c} - [0:0]`),
        ...[...frag.chains.values()].flat(),
        ...frag.natServices.map((l) => `-I KUBE-SERVICES 1${l.slice('-A KUBE-SERVICES'.length)}`),
        'COMMIT',
        '',
      ].join('\n');
      bareTimes.push(await bareRestore(nsBare, variant, minimal));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[1]!;
    const oursAdd = median(oursTimes);
    const bareAdd = median(bareTimes);
    console.log(
      `add 1 service at ${count} (median of 3): bare minimal restore ${fmt(bareAdd)} [${bareTimes.map(fmt).join(', ')}] | ours ${fmt(oursAdd)} [${oursTimes.map(fmt).join(', ')}] (last: ${detail}) | ratio ${(oursAdd / bareAdd).toFixed(2)}x (target <= 1.2x)`,
    );

    // A full resync over the rules already there (the hourly one, or the repair after drift).
    const t3 = performance.now();
    const resync = backend.render({ state: grownState, config: CONFIG, full: true, changed: new Set(), lastApplied: current });
    const resyncApplied = await backend.apply(resync);
    current = resync;
    console.log(`full resync over ${count} existing services: ${fmt(ms(t3))} (${resyncApplied.calls} calls)`);

    const t4 = performance.now();
    await exec.run({ file: `iptables-${variant}-save`, args: [], netns: nsBare, timeoutMs: 600_000 });
    const saveMs = ms(t4);
    const checks: string[] = [];
    for (const label of ['first, by meaning', 'second, by digest']) {
      const t2 = performance.now();
      const c0 = process.cpuUsage();
      const drift = await backend.detectDrift(current);
      const cpu = process.cpuUsage(c0);
      checks.push(`${label} ${fmt(ms(t2))} (${((cpu.user + cpu.system) / 1000).toFixed(0)} ms CPU in the agent), drift=${drift}`);
    }
    console.log(`drift check with content (iptables-save + compare): ${checks.join(' | ')}; a bare iptables-save of the same size: ${fmt(saveMs)}`);
  } finally {
    await dropNs(nsBare);
  }
}

/** Child mode: a process that only holds a Proxier at scale, to measure its RSS. */
async function rssChild(variant: IptablesVariant, count: number, perService: number): Promise<void> {
  const ns = await newNs('rss');
  try {
    const backend = new IptablesBackend({ exec, variant, netns: ns, conntrack: false });
    const proxier = new Proxier({ backend, config: CONFIG, minSyncPeriodMs: 100, syncPeriodMs: 30_000, metrics: new Registry() });
    // Objects arrive one by one, as from the watch; only the proxier keeps them.
    for (let k = 0; k < count; k += 1000) {
      const { services, endpoints } = workload(Math.min(1000, count - k), perService, k);
      for (const s of services) proxier.onServiceUpsert(s);
      for (const e of endpoints) proxier.onEndpointsUpsert(e);
    }
    proxier.onSynced();
    await proxier.syncNow();
    const { services, endpoints } = workload(1, perService, count);
    proxier.onServiceUpsert(services[0]!);
    proxier.onEndpointsUpsert(endpoints[0]!);
    await proxier.syncNow();
    if (proxier.status().lastError) throw new Error(proxier.status().lastError);
    // What the process keeps, not the transient peak of building and piping a 25 MB restore input:
    // collect, let V8 and malloc hand freed pages back, collect again.
    const settle = async () => {
      const gc = (globalThis as { gc?: () => void }).gc;
      gc?.();
      await new Promise((r) => setTimeout(r, 2000));
      gc?.();
      const m = process.memoryUsage();
      return { rssMiB: m.rss / 2 ** 20, heapUsedMiB: m.heapUsed / 2 ** 20 };
    };
    const synced = await settle();
    // A running agent also checks for drift every sync period: its digests stay, its 25 MB read does not.
    if (await backend.detectDrift(proxier.lastPlan()!)) throw new Error('drift right after a sync');
    const checked = await settle();
    console.log(JSON.stringify({ ...checked, syncedRssMiB: synced.rssMiB, syncedHeapMiB: synced.heapUsedMiB, syncs: proxier.status().syncs }));
  } finally {
    await dropNs(ns);
  }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('run as root (it creates network namespaces)');
  const count = Number(arg('services', '10000'));
  const perService = Number(arg('endpoints', '5'));
  const v = arg('variant', 'both');
  const variants: IptablesVariant[] = v === 'both' ? ['legacy', 'nft'] : [v as IptablesVariant];
  if (process.argv.includes('--rss-child')) return rssChild(variants[0]!, count, perService);
  for (const variant of variants) await benchVariant(variant, count, perService);
  // RSS in a fresh process so the bench's own plans do not count.
  const child = spawnSync(process.execPath, ['--expose-gc', process.argv[1]!, '--rss-child', '--variant', variants[0]!, '--services', String(count), '--endpoints', String(perService)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = child.stdout.trim().split('\n').at(-1) ?? '';
  const r = JSON.parse(line) as { rssMiB: number; heapUsedMiB: number; syncedRssMiB: number; syncedHeapMiB: number };
  console.log(
    `\nRSS of a process holding the Proxier with ${count} services (${variants[0]}): after full + partial sync ${r.syncedRssMiB.toFixed(0)} MiB (heap ${r.syncedHeapMiB.toFixed(0)} MiB); after one drift check as well ${r.rssMiB.toFixed(0)} MiB (heap ${r.heapUsedMiB.toFixed(0)} MiB); target < 200 MiB`,
  );
}

async function cleanupAll(): Promise<void> {
  for (const ns of [...created]) await dropNs(ns);
}

process.on('SIGINT', () => void cleanupAll().finally(() => process.exit(130)));
main().then(
  () => cleanupAll(),
  async (err: unknown) => {
    console.error(err);
    await cleanupAll();
    process.exitCode = 1;
  },
);
