/**
 * The change feed at fleet scale: a real nats-server, the real svcnet-state
 * and svcnet-allocator processes, N services with their endpoints already
 * stored, and W simulated agents (sim-agent.ts) in a few processes, each with
 * its own NATS connection. Measures: all W starting at the same moment until
 * every one has synced; then steady churn (writes straight to the state
 * bucket at a fixed rate) → every agent's plan, and `WaitProgrammed` (what
 * `svcnetctl wait --for=programmed` calls) against the moment the last agent
 * programmed the change; CPU and resident size of nats-server and
 * svcnet-state in each phase. Not a test: figures depend on the machine
 * (its load is printed).
 *
 *   node tools/bench/feed/dist/main.cjs [--agents 1000] [--services 10000] [--backends 3]
 *        [--rate 50] [--churn-seconds 30] [--mode fleet|consumers] [--workers N] [--min-sync 100]
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { openSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { credentials, Metadata } from '@grpc/grpc-js';
import { endpointsCodec, serviceCodec, statev1 } from '@svcnet/api';
import { objectKey } from '@svcnet/model';
import { connectStore, openStateStores, readFeedHead, streamInfo, type StateStores, type StoreConnection } from '@svcnet/store';
import { freePort, startNatsServer, summarize, waitForPort } from '@svcnet/testing';
import { benchEndpoints, benchService } from './fixtures.js';
import { ProcWatch } from './proc-stats.js';
import type { FromWorker, ToWorker, WorkerResults } from './protocol.js';
import { wallNow } from './sim-agent.js';
import { runWorker } from './worker.js';

const ROOT = resolve(process.env.SVCNET_ROOT ?? process.cwd());
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const ms = (n: number): string => `${n.toFixed(1)} ms`;
const s = (n: number): string => `${(n / 1000).toFixed(2)} s`;

interface Options {
  agents: number;
  services: number;
  backends: number;
  rate: number;
  churnSeconds: number;
  mode: 'fleet' | 'consumers';
  workers: number;
  minSync: number;
  heartbeat: number;
  waitEvery: number;
}

function options(): Options {
  const { values: o } = parseArgs({
    options: {
      agents: { type: 'string', default: '1000' },
      services: { type: 'string', default: '10000' },
      backends: { type: 'string', default: '3' },
      rate: { type: 'string', default: '50' },
      'churn-seconds': { type: 'string', default: '30' },
      mode: { type: 'string', default: 'fleet' },
      workers: { type: 'string', default: '0' },
      'min-sync': { type: 'string', default: '100' },
      heartbeat: { type: 'string', default: '10000' },
      'wait-every': { type: 'string', default: '25' },
      worker: { type: 'boolean', default: false },
    },
  });
  const agents = Number(o.agents);
  const mode = o.mode === 'consumers' ? 'consumers' : 'fleet';
  return {
    agents,
    services: Number(o.services),
    backends: Number(o.backends),
    rate: Number(o.rate),
    churnSeconds: Number(o['churn-seconds']),
    mode,
    workers: Number(o.workers) || Math.max(1, Math.min(4, Math.ceil(agents / 250))),
    minSync: Number(o['min-sync']),
    heartbeat: Number(o.heartbeat),
    waitEvery: Number(o['wait-every']),
  };
}

/** A worker process and a way to wait for its next message of a type. */
class WorkerHandle {
  private readonly waiting = new Map<string, ((m: FromWorker) => void)[]>();
  onSynced: (times: number[]) => void = () => undefined;

  constructor(readonly child: ChildProcess) {
    child.on('message', (raw: unknown) => {
      const m = raw as FromWorker;
      if (m.type === 'synced') return this.onSynced(m.times);
      const fns = this.waiting.get(m.type);
      fns?.shift()?.(m);
    });
  }

  send(m: ToWorker): void {
    this.child.send(m);
  }

  next<T extends FromWorker['type']>(type: T): Promise<Extract<FromWorker, { type: T }>> {
    return new Promise((res) => {
      const list = this.waiting.get(type) ?? [];
      list.push(res as (m: FromWorker) => void);
      this.waiting.set(type, list);
    });
  }
}

/** A control-plane process; its log goes to a file (printed at the start), not into the figures. */
function startProcess(args: string[], log: string): ChildProcess {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', openSync(log, 'w')] });
  child.on('exit', (code, signal) => {
    if (code !== null && code !== 0) console.error(`${args[0]} exited with ${code ?? signal}`);
  });
  return child;
}

async function seed(stores: StateStores, o: Options): Promise<void> {
  const t = performance.now();
  for (let i = 0; i < o.services; i += 500) {
    const n = Math.min(500, o.services - i);
    await Promise.all(
      Array.from({ length: n }, async (_, k) => {
        const svc = benchService(i + k, 80);
        const ep = benchEndpoints(i + k, o.backends);
        await stores.kv.put(objectKey('Service', svc.metadata.namespace, svc.metadata.name), serviceCodec.encode(svc));
        await stores.kv.put(objectKey('Endpoints', ep.metadata.namespace, ep.metadata.name), endpointsCodec.encode(ep));
      }),
    );
  }
  console.log(`seeded ${o.services} services and ${o.services} endpoints (${o.backends} backends each) in ${s(performance.now() - t)}`);
}

function cpuLine(watch: ProcWatch, before: Record<string, number>, seconds: number): string {
  const after = watch.mark();
  return Object.keys(after)
    .map((k) => `${k} ${(after[k]! - before[k]!) / 1000 >= 0 ? `${((after[k]! - before[k]!) / 1000).toFixed(2)} s CPU (${(((after[k]! - before[k]!) / 10 / seconds)).toFixed(0)}% of one core)` : '?'}`)
    .join('; ');
}

function rssLine(peaks: Record<string, number>): string {
  return Object.entries(peaks)
    .map(([k, v]) => `${k} ${v.toFixed(0)} MiB`)
    .join('; ');
}

async function main(o: Options): Promise<void> {
  console.log(
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`,
  );
  console.log(`run: ${o.agents} ${o.mode === 'fleet' ? 'agents on the fleet feed' : 'agents with a consumer per kind (the earlier design)'}, ${o.workers} processes; ${o.services} services; churn ${o.rate}/s for ${o.churnSeconds} s; min sync ${o.minSync} ms`);
  const nats = await startNatsServer();
  const children: ChildProcess[] = [];
  const workers: WorkerHandle[] = [];
  const connections: StoreConnection[] = [];
  let watch: ProcWatch | undefined;
  try {
    // A write that waits on a loaded server is slow, not lost: a long deadline, and failures are counted, not fatal.
    const writer = await connectStore({ url: nats.url, name: 'bench-writer', requestTimeoutMs: 30_000 });
    connections.push(writer);
    const stores = await openStateStores(writer);
    await seed(stores, o);

    const allocatorPort = await freePort();
    const statePort = await freePort();
    const logs = join(tmpdir(), `bench-feed-${process.pid}`);
    console.log(`control-plane logs: ${logs}-{allocator,state}.log`);
    const allocator = startProcess([join(ROOT, 'apps/allocator/dist/main.cjs'), '--listen', `127.0.0.1:${allocatorPort}`, '--nats-url', nats.url, '--metrics-bind-address', '', '--plaintext'], `${logs}-allocator.log`);
    const state = startProcess([
      join(ROOT, 'apps/state/dist/main.cjs'),
      '--listen',
      `127.0.0.1:${statePort}`,
      '--nats-url',
      nats.url,
      '--allocator-url',
      `127.0.0.1:${allocatorPort}`,
      '--metrics-bind-address',
      '',
      '--node-record-ttl',
      '1h',
      // Agents and the benchmark reach the state service's gRPC only for WaitProgrammed: TLS adds nothing to the figures.
      '--plaintext',
      '--allocator-plaintext',
    ], `${logs}-state.log`);
    children.push(allocator, state);
    await waitForPort(statePort, '127.0.0.1', 60_000);
    const seeded = (await streamInfo(writer.nc, 'svcnet-state')).state.last_seq;
    const t = performance.now();
    for (;;) {
      const info = await streamInfo(writer.nc, 'svcnet-state');
      const head = await readFeedHead({ nc: writer.nc, feedBucket: 'svcnet-feed', stateBucket: 'svcnet-state', streamCreated: info.created, prefixes: ['services.', 'endpoints.'] }).catch(() => undefined);
      if (head && head.head.revision >= seeded) {
        console.log(`state service up; shared snapshot at revision ${head.head.revision}: ${head.head.snapshot.records} records in ${head.head.snapshot.chunks} chunks, ${(head.head.snapshot.bytes / 1024).toFixed(0)} KiB compressed (${s(performance.now() - t)} after start)`);
        break;
      }
      if (performance.now() - t > 120_000) throw new Error('the state service wrote no snapshot within 120 s');
      await sleep(200);
    }
    watch = new ProcWatch({ 'nats-server': nats.pid!, 'svcnet-state': state.pid! });
    console.log(`idle with no agents: ${rssLine(watch.rss())}`);

    // Agents, spread over worker processes.
    const names = Array.from({ length: o.agents }, (_, i) => `agent-${i}`);
    for (let w = 0; w < o.workers; w++) {
      const profile = process.env['BENCH_FEED_PROFILE'] ? ['--cpu-prof', `--cpu-prof-dir=${process.env['BENCH_FEED_PROFILE']}`] : [];
      const child = fork(process.argv[1]!, ['--worker'], { execArgv: ['--max-old-space-size=4096', ...profile], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      children.push(child);
      workers.push(new WorkerHandle(child));
    }
    await Promise.all(
      workers.map((h, w) => {
        const ready = h.next('ready');
        h.send({ type: 'init', natsUrl: nats.url, names: names.filter((_, i) => i % o.workers === w), mode: o.mode, minSyncMs: o.minSync, heartbeatMs: o.heartbeat });
        return ready;
      }),
    );
    let t0 = performance.now();
    const connected = await Promise.all(workers.map((h) => (h.send({ type: 'connect' }), h.next('connected'))));
    console.log(`${o.agents} NATS connections opened in ${s(performance.now() - t0)} (per process ${connected.map((c) => s(c.ms)).join(', ')})`);

    // Every agent starts at the same moment.
    const syncedTimes: number[] = [];
    let cpu = watch.mark();
    watch.takePeaks();
    const start = wallNow();
    t0 = performance.now();
    const allSynced = new Promise<void>((res) => {
      for (const h of workers) {
        h.onSynced = (times) => {
          syncedTimes.push(...times);
          if (syncedTimes.length === o.agents) res();
        };
      }
    });
    const progress = setInterval(() => console.log(`  … ${syncedTimes.length}/${o.agents} synced after ${s(performance.now() - t0)}`), 5_000);
    for (const h of workers) h.send({ type: 'start', t0: start });
    const gaveUp = await Promise.race([allSynced.then(() => false), sleep(180_000).then(() => true)]);
    if (gaveUp) throw new Error(`only ${syncedTimes.length} of ${o.agents} agents synced within 180 s`);
    clearInterval(progress);
    const syncSeconds = (performance.now() - t0) / 1000;
    const st = summarize(syncedTimes);
    console.log(`${o.agents} agents started together: all synced in ${s(st.max)} (p50 ${s(st.p50)}, p99 ${s(st.p99)})`);
    console.log(`  during the start: ${cpuLine(watch, cpu, syncSeconds)}`);
    console.log(`  peak resident size: ${rssLine(watch.takePeaks())}`);

    await sleep(2_000);
    // Steady churn: half service updates, half endpoints updates; every few, a wait for the change.
    const client = new statev1.StateClient(`127.0.0.1:${statePort}`, credentials.createInsecure());
    const lastRevision = new Map<number, { svc: number; ep: number }>();
    type WaitOutcome = { revision: number; returnedAt: number; programmed: boolean; predicted: number; calledAt: number };
    const waits: Promise<WaitOutcome>[] = [];
    const total = Math.round(o.rate * o.churnSeconds);
    const interval = 1000 / o.rate;
    cpu = watch.mark();
    const churnStart = performance.now();
    const inflight: Promise<unknown>[] = [];
    let writeFailures = 0;
    for (let i = 0; i < total; i++) {
      const due = churnStart + i * interval;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      const idx = (i * 7919) % o.services;
      const at = wallNow();
      const put =
        i % 2 === 0
          ? (() => {
              const svc = benchService(idx, 1000 + (i % 50000), at);
              return stores.kv.put(objectKey('Service', svc.metadata.namespace, svc.metadata.name), serviceCodec.encode(svc)).then((rev) => ({ kind: 'svc' as const, rev, svc }));
            })()
          : (() => {
              const ep = benchEndpoints(idx, o.backends, at, i);
              return stores.kv.put(objectKey('Endpoints', ep.metadata.namespace, ep.metadata.name), endpointsCodec.encode(ep)).then((rev) => ({ kind: 'ep' as const, rev, svc: benchService(idx, 80) }));
            })();
      inflight.push(
        put.then(({ kind, rev, svc }) => {
          const last = lastRevision.get(idx) ?? { svc: 0, ep: 0 };
          last[kind] = rev;
          lastRevision.set(idx, last);
          if (i % o.waitEvery !== 0) return;
          const predicted = Math.max(last.svc, last.ep);
          for (const h of workers) h.send({ type: 'track', revision: predicted });
          const calledAt = wallNow();
          const call = new Promise<WaitOutcome>((res, rej) =>
              client.waitProgrammed(
                { namespace: svc.metadata.namespace, name: svc.metadata.name, revision: 0, timeoutMs: 10_000 },
                new Metadata(),
                { deadline: Date.now() + 20_000 },
                (err, r) => (err ? rej(err) : res({ revision: r.revision, returnedAt: wallNow(), programmed: r.programmed, predicted, calledAt })),
              ),
            );
          // Failures are counted after the churn; until then a rejection must not end the process.
          call.catch(() => undefined);
          waits.push(call);
        }).catch(() => void writeFailures++),
      );
    }
    await Promise.all(inflight);
    const settled = await Promise.allSettled(waits);
    const waitResults = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const waitFailures = settled.length - waitResults.length;
    const firstFailure = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected')?.reason as Error | undefined;
    await sleep(2_000);
    const churnSeconds = (performance.now() - churnStart) / 1000;
    console.log(`churn: ${total} writes at ${o.rate}/s (${writeFailures} failed); WaitProgrammed calls that failed: ${waitFailures}${firstFailure ? ` (first: ${firstFailure.message})` : ''}`);
    console.log(`  during the churn: ${cpuLine(watch, cpu, churnSeconds)}`);
    console.log(`  peak resident size: ${rssLine(watch.takePeaks())}`);

    const results: WorkerResults[] = await Promise.all(workers.map((h) => (h.send({ type: 'collect' }), h.next('results').then((m) => m.results))));
    const lat = summarize(results.flatMap((r) => r.latencies));
    const perChange = new Map<number, number>();
    for (const r of results) for (const [w, l] of r.perChangeMax) perChange.set(w, Math.max(perChange.get(w) ?? 0, l));
    const every = summarize([...perChange.values()]);
    console.log(`write → agent's plan, every (change, agent) pair: ${lat.count}/${total * o.agents} deliveries, p50 ${ms(lat.p50)}, p99 ${ms(lat.p99)}, max ${ms(lat.max)}`);
    console.log(`write → the last of ${o.agents} agents, per change: ${every.count} changes, p50 ${ms(every.p50)}, p99 ${ms(every.p99)}, max ${ms(every.max)}`);
    const lastAt = new Map<number, { count: number; at: number }>();
    for (const r of results) {
      for (const [rev, count, at] of r.tracked) {
        const cur = lastAt.get(rev) ?? { count: 0, at: 0 };
        lastAt.set(rev, { count: cur.count + count, at: Math.max(cur.at, at) });
      }
    }
    const afterLast: number[] = [];
    const durations: number[] = [];
    let unmatched = 0;
    let timedOut = 0;
    for (const w of waitResults) {
      const l = lastAt.get(w.predicted);
      if (!w.programmed) timedOut++;
      if (w.revision !== w.predicted || !l || l.count < o.agents) {
        unmatched++;
        continue;
      }
      afterLast.push(w.returnedAt - l.at);
      durations.push(w.returnedAt - w.calledAt);
    }
    const al = summarize(afterLast);
    const du = summarize(durations);
    console.log(
      `WaitProgrammed (${waitResults.length} calls, ${timedOut} timed out, ${unmatched} not comparable): returned after the last agent programmed by p50 ${ms(al.p50)}, p99 ${ms(al.p99)}, max ${ms(al.max)}; call duration p50 ${ms(du.p50)}, p99 ${ms(du.p99)}`,
    );
    const sizes = { min: Math.min(...results.map((r) => r.planSizes.min)), max: Math.max(...results.map((r) => r.planSizes.max)) };
    console.log(`plans: ${sizes.min}–${sizes.max} lines per agent (expected ${2 * o.services}); agents' processes: ${results.map((r) => `${(r.cpuMs / 1000).toFixed(1)} s CPU, ${r.rssMiB.toFixed(0)} MiB`).join('; ')}`);
    console.log(`feed: ${results.reduce((n, r) => n + r.extraBases, 0)} bases taken again, ${results.reduce((n, r) => n + r.gapRecords, 0)} records fetched to close gaps (over all agents)`);
    console.log(`load average at the end: ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
    client.close();
  } finally {
    watch?.stop();
    await Promise.all(
      workers.map(async (h) => {
        const exited = new Promise((r) => h.child.once('exit', r));
        h.send({ type: 'stop' });
        await Promise.race([exited, sleep(15_000)]);
      }),
    );
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    for (const c of connections) await c.close();
    await nats.cleanup();
  }
}

if (process.argv.includes('--worker')) {
  runWorker();
} else {
  main(options()).then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
