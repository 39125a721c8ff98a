/**
 * Change-feed benchmark: a real nats-server, N services already stored, W
 * KindWatchers (one NATS connection each, as W node agents would have), then
 * timed writes. Prints the initial sync time of a new watcher and the
 * write → handler latency over every (write, watcher) pair. Not a test: the
 * figures depend on the machine's load (printed alongside).
 *
 *   node tools/bench/feed/dist/main.cjs [--services 10000] [--watchers 100] [--writes 500] [--rate 100]
 */
import { loadavg } from 'node:os';
import { pino } from 'pino';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { serviceCodec } from '@svcnet/api';
import type { Service } from '@svcnet/model';
import { connectStore, KindWatcher, openStateStores, type StoreConnection } from '@svcnet/store';
import { startNatsServer, summarize } from '@svcnet/testing';

const { values: opts } = parseArgs({
  options: {
    services: { type: 'string', default: '10000' },
    watchers: { type: 'string', default: '100' },
    writes: { type: 'string', default: '500' },
    rate: { type: 'string', default: '100' },
  },
});
const SERVICES = Number(opts.services);
const WATCHERS = Number(opts.watchers);
const WRITES = Number(opts.writes);
const RATE = Number(opts.rate);

function service(i: number, port: number): Service {
  return {
    metadata: { namespace: `ns${i % 50}`, name: `svc-${i}`, uid: `uid-${i}`, labels: { app: `app-${i}` }, annotations: {}, resourceVersion: 0, changeTimestamp: new Date() },
    spec: {
      type: 'ClusterIP',
      clusterIP: `10.96.${(i >> 8) & 255}.${i & 255}`,
      clusterIPs: [`10.96.${(i >> 8) & 255}.${i & 255}`],
      ipFamilies: ['IPv4'],
      ports: [{ name: 'http', protocol: 'TCP', port, targetPort: 8080, nodePort: 0 }],
      selector: { app: `app-${i}` },
      sessionAffinity: 'None',
      sessionAffinityTimeoutSeconds: 0,
      externalTrafficPolicy: 'Cluster',
      internalTrafficPolicy: 'Cluster',
      externalIPs: [],
    },
  };
}

const fmt = (ms: number): string => `${ms.toFixed(1)} ms`;

// Watchers report reconnects and resyncs at warn: worth seeing in a benchmark.
const logger = pino({ level: 'warn' }, pino.destination({ fd: 2, sync: false }));

async function main(): Promise<void> {
  const nats = await startNatsServer();
  const connections: StoreConnection[] = [];
  const watchers: KindWatcher<Service>[] = [];
  try {
    const writer = await connectStore({ url: nats.url, name: 'bench-writer' });
    connections.push(writer);
    const stores = await openStateStores(writer);

    let t = performance.now();
    for (let i = 0; i < SERVICES; i += 500) {
      await Promise.all(Array.from({ length: Math.min(500, SERVICES - i) }, (_, k) => stores.services.create(service(i + k, 80))));
    }
    console.log(`seeded ${SERVICES} services in ${fmt(performance.now() - t)}`);

    // A new watcher's time to full sync, alone.
    const solo = await connectStore({ url: nats.url, name: 'bench-solo' });
    connections.push(solo);
    const noop = { onUpsert: () => undefined, onDelete: () => undefined, onSynced: () => undefined };
    const soloSamples: number[] = [];
    for (let run = 0; run < 3; run++) {
      const w = new KindWatcher<Service>({ connection: solo, kind: 'Service', codec: serviceCodec, handlers: noop });
      t = performance.now();
      await w.start();
      soloSamples.push(performance.now() - t);
      if (w.snapshot().size !== SERVICES) throw new Error(`solo watcher synced ${w.snapshot().size} of ${SERVICES}`);
      await w.stop();
    }
    console.log(`initial sync of one new watcher (${SERVICES} services): ${soloSamples.map(fmt).join(', ')} (best ${fmt(Math.min(...soloSamples))})`);

    // W watchers, each on its own connection; all of them starting at once.
    const pending = new Map<string, number>(); // key → write start time
    const latencies: number[] = [];
    const seen = new Map<string, number>(); // key → watchers that saw the pending write
    t = performance.now();
    for (let i = 0; i < WATCHERS; i++) {
      const conn = await connectStore({ url: nats.url, name: `bench-agent-${i}` });
      connections.push(conn);
      watchers.push(
        new KindWatcher<Service>({
          connection: conn,
          kind: 'Service',
          codec: serviceCodec,
          logger,
          handlers: {
            onUpsert: (_svc, meta) => {
              const start = pending.get(meta.key);
              if (start === undefined) return;
              latencies.push(performance.now() - start);
              const n = (seen.get(meta.key) ?? 0) + 1;
              seen.set(meta.key, n);
              if (n === WATCHERS) pending.delete(meta.key);
            },
            onDelete: () => undefined,
            onSynced: () => undefined,
          },
        }),
      );
    }
    let synced = 0;
    const progress = setInterval(() => {
      const sizes = watchers.map((w) => w.snapshot().size);
      console.log(`  … ${synced}/${WATCHERS} synced; cache sizes min ${Math.min(...sizes)} max ${Math.max(...sizes)}`);
    }, 5_000);
    await Promise.all(watchers.map((w) => w.start().then(() => synced++)));
    clearInterval(progress);
    console.log(`${WATCHERS} watchers started together, all synced in ${fmt(performance.now() - t)}`);

    // Timed writes at a fixed rate: half updates of existing services, half creates.
    const interval = 1000 / RATE;
    const writeStart = performance.now();
    const inflight: Promise<unknown>[] = [];
    for (let i = 0; i < WRITES; i++) {
      const due = writeStart + i * interval;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      if (i % 2 === 0) {
        const idx = i % SERVICES;
        const svc = service(idx, 1000 + i);
        const key = stores.services.key(svc.metadata.namespace, svc.metadata.name);
        pending.set(key, performance.now());
        inflight.push(stores.kv.put(key, serviceCodec.encode(svc)));
      } else {
        const svc = service(SERVICES + i, 80);
        pending.set(stores.services.key(svc.metadata.namespace, svc.metadata.name), performance.now());
        inflight.push(stores.services.create(svc));
      }
    }
    await Promise.all(inflight);
    const deadline = performance.now() + 30_000;
    while (latencies.length < WRITES * WATCHERS && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const s = summarize(latencies);
    console.log(
      `propagation write → handler over ${WRITES} writes at ${RATE}/s × ${WATCHERS} watchers (${s.count}/${WRITES * WATCHERS} deliveries): p50 ${fmt(s.p50)}, p99 ${fmt(s.p99)}, max ${fmt(s.max)}`,
    );
    const caches = watchers.map((w) => w.snapshot().size);
    console.log(`caches: min ${Math.min(...caches)} max ${Math.max(...caches)} objects (expected ${SERVICES + Math.floor(WRITES / 2)})`);
    console.log(`load average during the run: ${loadavg().map((l) => l.toFixed(1)).join(' ')} on this machine`);
  } finally {
    await Promise.all(watchers.map((w) => w.stop()));
    for (const c of connections) await c.close();
    await nats.cleanup();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
