/**
 * nftables backend benchmark (root; throw-away network namespaces
 * nft-bench-<random>-*). Prints, each against a bare `nft -f` of the very
 * same text in another namespace in the same run: the full sync (the table
 * replaced), one service added and one endpoint replaced (partial syncs:
 * elements only), the drift check (nothing committed since our sync, and
 * after a commit to another table), and the RSS of a process holding a
 * Proxier with the nftables backend at that many services.
 *
 *   node tools/bench/nftables/dist/main.cjs [--services 10000] [--endpoints 5] [--runs 1] [--changes 7] [--no-rss]
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { ProcessNetExec } from '@svcnet/netexec';
import { Proxier } from '@svcnet/proxy-core';
import { ELEMENT_MAPS, NftablesBackend, renderNftPlan, replaceScript, updateScript, type NftPlan } from '@svcnet/backend-nftables';
import { NetnsLab } from '@svcnet/testing';
import { CONFIG, endpointsOf, modelObjects, proxyState, servicePort } from './workload.js';

const exec = new ProcessNetExec();

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const ms = (x: number) => `${x.toFixed(0)} ms`;
const secs = (x: number) => `${(x / 1000).toFixed(2)} s`;
const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const median = (xs: number[]) => sorted(xs)[Math.floor(xs.length / 2)]!;
const range = (xs: number[], f: (x: number) => string) => `${f(sorted(xs)[0]!)}–${f(sorted(xs).at(-1)!)} (median ${f(median(xs))})`;

async function timed<T>(fn: () => Promise<T> | T): Promise<[T, number]> {
  const t = performance.now();
  const r = await fn();
  return [r, performance.now() - t];
}

/** This process's CPU time (ms) spent in `fn`: less at the mercy of other load than wall time. */
function cpu<T>(fn: () => T): [T, number] {
  const c = process.cpuUsage();
  const r = fn();
  const d = process.cpuUsage(c);
  return [r, (d.user + d.system) / 1000];
}

async function bareNft(ns: string, text: string): Promise<number> {
  return (await timed(() => exec.run({ file: 'nft', args: ['-f', '-'], input: text, netns: ns, timeoutMs: 900_000 })))[1];
}

async function bench(count: number, perService: number, runs: number, changes: number): Promise<void> {
  const lab = new NetnsLab({ prefix: `nft-bench-${randomBytes(3).toString('hex')}` });
  try {
    const [ours, bare] = [await lab.addNamespace('ours'), await lab.addNamespace('bare')];
    const backend = new NftablesBackend({ exec, netns: ours, timeoutMs: 900_000, conntrack: false });
    const state = proxyState(count, perService);
    console.log(`== nftables, ${count} services × ${perService} endpoints (load average ${loadavg()[0]!.toFixed(1)}) ==`);

    // Full sync: render + apply (the table replaced, the generation read before and the rules after).
    let plan: NftPlan | undefined;
    const full = { render: [] as number[], text: [] as number[], cpu: [] as number[], ours: [] as number[], bare: [] as number[] };
    for (let r = 0; r < runs; r++) {
      const [p, renderMs] = await timed(() => renderNftPlan({ state, config: CONFIG, full: true }));
      const [text, textMs] = await timed(() => replaceScript(p));
      full.cpu.push(cpu(() => renderNftPlan({ state, config: CONFIG, full: true }))[1] + cpu(() => replaceScript(p))[1]);
      full.bare.push(await bareNft(bare, text));
      const [, applyMs] = await timed(() => backend.apply(p));
      full.render.push(renderMs);
      full.text.push(textMs);
      full.ours.push(renderMs + applyMs);
      plan = p;
      if (r === 0) {
        const elements = ELEMENT_MAPS.reduce((n, m) => n + p.digests[m.name].count, 0);
        console.log(`table: ${elements} elements, ${p.picks.size} pick chains, ${(text.length / 1e6).toFixed(1)} MB of nft input`);
      }
    }
    const ratios = full.ours.map((o, i) => o / full.bare[i]!);
    console.log(
      `full sync: ours ${range(full.ours, secs)} (render ${range(full.render, ms)}; table text ${range(full.text, ms)}; render + text again, CPU time: ${range(full.cpu, ms)}) | bare nft -f ${range(full.bare, secs)} | ratio ${range(ratios, (x) => `${x.toFixed(2)}×`)}`,
    );

    // Partial syncs, alternating with the bare `nft -f` of the same script in the bare namespace.
    const partial = async (what: string, change: (i: number) => string) => {
      const o: number[] = [];
      const b: number[] = [];
      const renders: number[] = [];
      let bytes = 0;
      for (let i = 0; i < changes; i++) {
        const id = change(i);
        const [next, renderMs] = await timed(() => renderNftPlan({ state, config: CONFIG, full: false, lastApplied: plan, changed: new Set([id]) }));
        const script = updateScript(plan!, next);
        bytes = script.length;
        const [, applyMs] = await timed(() => backend.apply(next));
        b.push(await bareNft(bare, script));
        o.push(renderMs + applyMs);
        renders.push(renderMs);
        plan = next;
      }
      console.log(
        `${what}: ours ${range(o, ms)} (render ${range(renders, (x) => `${x.toFixed(1)} ms`)}; ${bytes} bytes of nft input) | bare nft -f ${range(b, ms)} | ratio ${(median(o) / median(b)).toFixed(2)}× of medians`,
      );
    };
    await partial('one service added', (i) => {
      const sp = servicePort(count + i);
      state.services.set(sp.id, sp);
      state.endpoints.set(sp.id, endpointsOf(count + i, perService));
      return sp.id;
    });
    await partial('one endpoint replaced', (i) => {
      const k = 7 + i * 13;
      const id = servicePort(k).id;
      state.endpoints.set(id, endpointsOf(k, perService, true));
      return id;
    });

    // Drift: nothing committed since our sync (one generation read), then after a commit to another table.
    const cheap: number[] = [];
    for (let i = 0; i < 5; i++) {
      const [drift, t] = await timed(() => backend.detectDrift(plan!));
      if (drift) throw new Error('drift found in an untouched table');
      cheap.push(t);
    }
    const [, nothing] = await timed(() => exec.run({ file: 'true', args: [], netns: ours }));
    await exec.run({ file: 'nft', args: ['add', 'table', 'ip', 'someone-else'], netns: ours });
    const [foreignDrift, foreign] = await timed(() => backend.detectDrift(plan!));
    console.log(
      `drift check: nothing committed since our sync ${range(cheap, ms)} (spawning \`true\` in the namespace: ${ms(nothing)}); after another program's commit (every chain's rules and every map's elements read and compared): ${ms(foreign)}, drift=${foreignDrift}`,
    );
  } finally {
    await lab.cleanup();
  }
}

/** Child mode: a process that only holds a Proxier at scale, to measure its RSS. */
async function rssChild(count: number, perService: number): Promise<void> {
  const lab = new NetnsLab({ prefix: `nft-bench-${randomBytes(3).toString('hex')}` });
  try {
    const ns = await lab.addNamespace('rss');
    const proxier = new Proxier({ backend: new NftablesBackend({ exec, netns: ns, timeoutMs: 900_000, conntrack: false }), config: CONFIG, minSyncPeriodMs: 100, syncPeriodMs: 3_600_000 });
    // Objects arrive one by one, as from the watch; only the proxier keeps them.
    for (let k = 0; k < count; k += 1000) {
      const { services, endpoints } = modelObjects(k, Math.min(1000, count - k), perService);
      for (const s of services) proxier.onServiceUpsert(s);
      for (const e of endpoints) proxier.onEndpointsUpsert(e);
    }
    proxier.onSynced();
    await proxier.syncNow();
    const { services, endpoints } = modelObjects(count, 1, perService);
    proxier.onServiceUpsert(services[0]!);
    proxier.onEndpointsUpsert(endpoints[0]!);
    await proxier.syncNow();
    if (proxier.status().lastError) throw new Error(proxier.status().lastError);
    // What the process keeps, not the transient peak of building and piping the full table's text.
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    await new Promise((r) => setTimeout(r, 2000));
    gc?.();
    const m = process.memoryUsage();
    console.log(JSON.stringify({ rssMiB: m.rss / 2 ** 20, heapUsedMiB: m.heapUsed / 2 ** 20, heapTotalMiB: m.heapTotal / 2 ** 20, externalMiB: m.external / 2 ** 20, syncs: proxier.status().syncs }));
    await proxier.stop();
  } finally {
    await lab.cleanup();
  }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the benchmark needs root (network namespaces)');
  const count = Number(arg('services', '10000'));
  const perService = Number(arg('endpoints', '5'));
  if (process.argv.includes('--rss-child')) return rssChild(count, perService);
  await bench(count, perService, Number(arg('runs', '1')), Number(arg('changes', '7')));
  if (process.argv.includes('--no-rss')) return;
  // RSS in a fresh process so the benchmark's own plans do not count.
  const child = spawnSync(process.execPath, ['--expose-gc', process.argv[1]!, '--rss-child', '--services', String(count), '--endpoints', String(perService)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = child.stdout.trim().split('\n').at(-1) ?? '';
  const r = JSON.parse(line) as { rssMiB: number; heapUsedMiB: number };
  console.log(`RSS of a process holding a Proxier with ${count} services after a full and a partial sync: ${r.rssMiB.toFixed(0)} MiB (heap ${r.heapUsedMiB.toFixed(0)} MiB)`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
