#!/usr/bin/env node
// Allocator benchmark: starts a real nats-server and N allocator replicas
// (apps/allocator/dist/main.cjs, build it first), drives them with C concurrent
// gRPC clients, and prints allocations/s, p50/p99/p99.9 latency and the
// duplicate count. Not a timed test: figures depend on the machine's load.
//
//   node tools/bench/allocator/run.mjs [--replicas 1,3] [--nats 1,3] [--clients 64] [--requests 20000] [--range 10.0.0.0/16]
//                                      [--rate N] [--warmup 5000] [--client h2|lean|grpc-js] [--store-dir DIR]
//
// Without --rate the clients run closed-loop (each sends its next request when
// the last one returns): that measures capacity, and latency is then mostly
// queueing (Little's law: p50 ≈ clients / throughput). With --rate N the same
// clients start requests on a fixed schedule of N/s in total, and latency is
// measured from each request's scheduled start (no coordinated omission): the
// latency a service sees at that sustained load.
//
// The 64 clients share one HTTP/2 connection per replica (as grpc-js channels
// do). `--client h2` (default) drives them with h2-client.mjs, which speaks
// HTTP/2 itself: node:http2 streams are native objects that survive V8's
// young-generation GCs, and a generator pausing 5-20 ms per scavenge measures
// its own pauses. `--client lean` (lean-client.mjs, on node:http2) and
// `--client grpc-js` (@grpc/grpc-js) are there to compare. On a 2-core box
// every cycle the generator spends is taken from the allocator and
// nats-server. Before measuring, `--warmup` allocations (closed loop) let V8
// optimise both sides: the first second after start-up otherwise dominates
// every tail figure. `--store-dir` places nats-server's JetStream store
// (default: the OS temp dir). `--nats 1,3` runs every scenario once on a single
// nats-server (buckets R1) and once on a 3-server JetStream cluster (buckets R3,
// every allocation acknowledged by two of three servers), all on this host.
// The allocators serve plaintext gRPC here (--plaintext): the figures are the
// allocator's and NATS's, not TLS's.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { PerformanceObserver } from 'node:perf_hooks';
import { createRequire } from 'node:module';
import { h2Client } from './h2-client.mjs';
import { leanClient } from './lean-client.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const require = createRequire(join(root, 'package.json'));
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const { values: opts } = parseArgs({
  options: {
    replicas: { type: 'string', default: '1,3' },
    nats: { type: 'string', default: '1' },
    clients: { type: 'string', default: '64' },
    requests: { type: 'string', default: '20000' },
    range: { type: 'string', default: '10.0.0.0/16' },
    rate: { type: 'string', default: '0' },
    warmup: { type: 'string', default: '5000' },
    client: { type: 'string', default: 'h2' },
    'store-dir': { type: 'string', default: tmpdir() },
    'nats-server': { type: 'string', default: process.env.NATS_SERVER_BIN ?? 'nats-server' },
  },
});
const bundle = join(root, 'apps/allocator/dist/main.cjs');
if (!existsSync(bundle)) {
  console.error(`missing ${bundle}: run \`npx nx run allocator:build\` first`);
  process.exit(2);
}

const packageDefinition = protoLoader.loadSync('svcnet/v1/allocator.proto', {
  includeDirs: [join(root, 'proto')],
  keepCase: false,
  longs: String,
  enums: String,
  defaults: true,
});
const AllocatorClient = grpc.loadPackageDefinition(packageDefinition).svcnet.v1.Allocator;
const protobuf = require('protobufjs');
const protoRoot = new protobuf.Root();
protoRoot.resolvePath = (_origin, target) => (target.startsWith('/') ? target : join(root, 'proto', target));
protoRoot.loadSync('svcnet/v1/allocator.proto', { keepCase: false });
const leanTypes = Object.fromEntries(
  ['AllocateClusterIP', 'GetStatus'].map((m) => [
    m,
    { request: protoRoot.lookupType(`svcnet.v1.${m}Request`), response: protoRoot.lookupType(`svcnet.v1.${m}Response`) },
  ]),
);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}
async function waitForPort(port, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise((r) => {
      const s = connect({ port, host: '127.0.0.1' });
      s.once('connect', () => (s.destroy(), r(true)));
      s.once('error', () => r(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing on port ${port}`);
    await sleep(50);
  }
}
function unary(client, method, req, timeoutMs = 30_000) {
  return new Promise((res, rej) =>
    client[method](req, { deadline: new Date(Date.now() + timeoutMs) }, (err, out) => (err ? rej(err) : res(out))),
  );
}
/** One allocator as the load generator sees it: allocate(owner) → ip. */
function makeClient(kind, target) {
  if (kind === 'grpc-js') {
    const client = new AllocatorClient(target, grpc.credentials.createInsecure());
    return {
      allocate: async (owner) => (await unary(client, 'allocateClusterIp', { owner })).ip,
      status: () => unary(client, 'getStatus', {}, 2000),
      close: () => client.close(),
    };
  }
  if (kind !== 'h2' && kind !== 'lean') throw new Error(`--client must be h2, lean or grpc-js, not ${kind}`);
  const client = (kind === 'h2' ? h2Client : leanClient)(target, 'svcnet.v1.Allocator', leanTypes);
  return {
    allocate: async (owner) => (await client.call('AllocateClusterIP', { owner })).ip,
    status: () => client.call('GetStatus', {}),
    close: () => client.close(),
  };
}
function spawnChild(cmd, args) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b) => (stderr = (stderr + b.toString()).slice(-4000)));
  child.logs = () => stderr;
  return child;
}
async function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise((r) => {
    child.once('exit', r);
    child.kill('SIGTERM');
  });
}
/** CPU seconds (user + system) a process has used so far, from /proc (Linux). */
function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in USER_HZ ticks
  } catch {
    return NaN;
  }
}
/** Parses Prometheus text into [{ name, labels, value }]. */
function parseMetrics(text) {
  const out = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}
async function scrape(port) {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  if (!res.ok) throw new Error(`/metrics on ${port}: HTTP ${res.status}`);
  return parseMetrics(await res.text());
}
/** Sum of the samples matching name and labels, over every replica's scrape. */
function total(scrapes, name, labels = {}) {
  let sum = 0;
  for (const samples of scrapes)
    for (const x of samples) if (x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v)) sum += x.value;
  return sum;
}
/** What the allocators measured themselves between two scrapes: handling time of AllocateClusterIP and their GC pauses. */
function serverSide(before, after) {
  const delta = (name, labels) => total(after, name, labels) - total(before, name, labels);
  const call = { grpc_method: 'AllocateClusterIP' };
  const calls = delta('grpc_server_handling_seconds_count', call);
  const gcPauses = delta('nodejs_gc_duration_seconds_count');
  return {
    calls,
    within10ms: delta('grpc_server_handling_seconds_bucket', { ...call, le: '0.01' }) / calls,
    within20ms: delta('grpc_server_handling_seconds_bucket', { ...call, le: '0.02' }) / calls,
    gcPauses,
    gcOver10ms: gcPauses - delta('nodejs_gc_duration_seconds_bucket', { le: '0.01' }),
    gcSeconds: delta('nodejs_gc_duration_seconds_sum'),
  };
}
/** This process's own GC pauses (they delay the responses it timestamps). */
function watchOwnGc() {
  const pauses = [];
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) pauses.push(e.duration);
  });
  observer.observe({ entryTypes: ['gc'] });
  return {
    stop: () => {
      observer.disconnect();
      return { pauses: pauses.length, over10ms: pauses.filter((d) => d > 10).length, maxMs: Math.max(0, ...pauses) };
    },
  };
}
function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** JetStream's meta leader, from a server's monitoring port (undefined until the cluster has one). */
async function metaLeader(monitorPort) {
  try {
    const res = await fetch(`http://127.0.0.1:${monitorPort}/jsz`);
    return (await res.json()).meta_cluster?.leader;
  } catch {
    return undefined;
  }
}

/** One nats-server, or `size` of them as one JetStream cluster; resolves once JetStream can serve. */
async function startNats(size, children) {
  const ports = await Promise.all(Array.from({ length: size }, () => freePort()));
  const routePorts = await Promise.all(Array.from({ length: size }, () => freePort()));
  const monitorPorts = await Promise.all(Array.from({ length: size }, () => freePort()));
  const storeDirs = [];
  const routes = routePorts.map((p) => `nats-route://127.0.0.1:${p}`).join(',');
  for (let i = 0; i < size; i++) {
    const dir = mkdtempSync(join(opts['store-dir'], 'svcnet-bench-nats-'));
    storeDirs.push(dir);
    const args = ['-js', '-a', '127.0.0.1', '-p', String(ports[i]), '-sd', dir, '-m', String(monitorPorts[i])];
    if (size > 1) args.push('--cluster_name', 'bench', '--cluster', `nats://127.0.0.1:${routePorts[i]}`, '--routes', routes, '-n', `bench-${i}`);
    children.push(spawnChild(opts['nats-server'], args));
  }
  for (const p of ports) await waitForPort(p);
  if (size > 1) {
    const deadline = Date.now() + 30_000;
    while (!(await metaLeader(monitorPorts[0]))) {
      if (Date.now() > deadline) throw new Error('the NATS cluster elected no JetStream meta leader in 30 s');
      await sleep(200);
    }
  }
  await sleep(300);
  return { url: ports.map((p) => `nats://127.0.0.1:${p}`).join(','), storeDirs };
}

async function runScenario(replicaCount, natsSize, clients, requests, range) {
  const children = [];
  const metricsPorts = [];
  const grpcClients = [];
  let storeDirs = [];
  try {
    const nats = await startNats(natsSize, children);
    storeDirs = nats.storeDirs;
    const natsUrl = nats.url;
    for (let i = 0; i < replicaCount; i++) {
      const port = await freePort();
      const metricsPort = await freePort();
      metricsPorts.push(metricsPort);
      children.push(
        spawnChild(process.execPath, [
          bundle,
          '--listen',
          `127.0.0.1:${port}`,
          '--nats-url',
          natsUrl,
          '--service-cluster-ip-range',
          range,
          '--metrics-bind-address',
          `127.0.0.1:${metricsPort}`,
          '--kv-replicas',
          String(Math.min(3, natsSize)),
          '--plaintext',
        ]),
      );
      await waitForPort(port);
      const client = makeClient(opts.client, `127.0.0.1:${port}`);
      grpcClients.push(client);
      for (let attempt = 0; ; attempt++) {
        try {
          await client.status();
          break;
        } catch (err) {
          if (attempt > 100) throw err;
          await sleep(100);
        }
      }
    }
    // Warm-up (closed loop, not measured): connections, bucket, V8's optimised code on both sides.
    let warmed = 0;
    await Promise.all(
      Array.from({ length: clients }, async (_, worker) => {
        while (warmed++ < warmup) await grpcClients[worker % replicaCount].allocate(`warm/svc-${warmed}`);
      }),
    );

    const scrapeAll = () => Promise.all(metricsPorts.map((p) => scrape(p)));
    const metricsBefore = await scrapeAll();
    const ownGc = watchOwnGc();
    const cpuBefore = children.map((c) => cpuSeconds(c.pid));
    const clientCpuBefore = process.cpuUsage();
    const latencies = new Float64Array(requests);
    const ips = new Array(requests);
    let next = 0;
    let errors = 0;
    const firstErrors = [];
    const started = performance.now();
    await Promise.all(
      Array.from({ length: clients }, async (_, worker) => {
        const client = grpcClients[worker % replicaCount];
        for (;;) {
          const i = next++;
          if (i >= requests) return;
          let t0 = performance.now();
          if (rate > 0) {
            const due = started + (i * 1000) / rate;
            if (due > t0) await sleep(due - t0);
            t0 = due;
          }
          try {
            ips[i] = await client.allocate(`bench/svc-${i}`);
          } catch (err) {
            errors++;
            if (firstErrors.length < 3) firstErrors.push(err.message);
          }
          latencies[i] = performance.now() - t0;
        }
      }),
    );
    const elapsedMs = performance.now() - started;
    const generatorGc = ownGc.stop();
    const metricsAfter = await scrapeAll();
    const server = serverSide(metricsBefore, metricsAfter);
    const perChild = children.map((c, i) => cpuSeconds(c.pid) - cpuBefore[i]);
    const serverCpu = perChild.reduce((a, b) => a + b, 0);
    const clientUsage = process.cpuUsage(clientCpuBefore);
    const clientCpu = (clientUsage.user + clientUsage.system) / 1e6;
    const sorted = Array.from(latencies).sort((a, b) => a - b);
    const got = ips.filter(Boolean);
    const duplicates = got.length - new Set(got).size;
    return {
      replicas: replicaCount,
      natsServers: natsSize,
      clients,
      requests,
      allocationsPerSecond: Math.round((got.length / elapsedMs) * 1000),
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
      p999: percentile(sorted, 99.9),
      max: sorted[sorted.length - 1],
      errors,
      duplicates,
      firstErrors,
      // CPU per allocation of NATS + allocators (and of this load generator): load-independent cost.
      serverCpuMsPerAlloc: (serverCpu * 1000) / got.length,
      natsCpuMsPerAlloc: (perChild.slice(0, natsSize).reduce((a, b) => a + b, 0) * 1000) / got.length,
      clientCpuMsPerAlloc: (clientCpu * 1000) / got.length,
      server,
      generatorGc,
    };
  } finally {
    for (const c of grpcClients) c.close();
    for (const c of children.reverse()) await stopChild(c);
    for (const d of storeDirs) rmSync(d, { recursive: true, force: true });
  }
}

const ms = (v) => `${v.toFixed(1)} ms`;
const pct = (v) => (Number.isFinite(v) ? `${(v * 100).toFixed(2)}%` : 'n/a');
const clients = Number(opts.clients);
const requests = Number(opts.requests);
const rate = Number(opts.rate);
const warmup = Number(opts.warmup);
console.log(
  `svcnet allocator benchmark: ${clients} concurrent clients (${opts.client} gRPC client), ${requests} AllocateClusterIP calls per run after ${warmup} warm-up calls, range ${opts.range}, ${rate > 0 ? `paced at ${rate}/s in total` : 'closed loop'}`,
);
console.log(`load average before: ${loadavg().map((l) => l.toFixed(2)).join(' ')} on ${require('node:os').cpus().length} CPUs`);
let failed = false;
const results = [];
for (const natsSize of opts.nats.split(',').map(Number))
for (const replicas of opts.replicas.split(',').map(Number)) {
  const r = await runScenario(replicas, natsSize, clients, requests, opts.range);
  results.push(r);
  console.log(
    `nats=${r.natsServers}${r.natsServers > 1 ? ' (R3)' : ' (R1)'}  replicas=${r.replicas}  allocations/s=${r.allocationsPerSecond}  p50=${ms(r.p50)}  p99=${ms(r.p99)}  p99.9=${ms(r.p999)}  max=${ms(r.max)}  errors=${r.errors}  duplicates=${r.duplicates}`,
  );
  const capacity = Math.round(((require('node:os').cpus().length * 1000) / r.serverCpuMsPerAlloc));
  console.log(
    `  cpu per allocation: nats+allocators ${r.serverCpuMsPerAlloc.toFixed(3)} ms (nats-server ${r.natsCpuMsPerAlloc.toFixed(3)}), load generator ${r.clientCpuMsPerAlloc.toFixed(3)} ms  → CPU-bound ceiling with all cores for the servers ≈ ${capacity}/s`,
  );
  const s = r.server;
  console.log(
    `  server side (allocators' grpc_server_handling_seconds): ${pct(s.within20ms)} of ${s.calls} calls within 20 ms, ${pct(s.within10ms)} within 10 ms`,
  );
  console.log(
    `  GC pauses over 10 ms during the run: allocators ${s.gcOver10ms} of ${s.gcPauses} (${s.gcSeconds.toFixed(2)} s in GC), load generator ${r.generatorGc.over10ms} of ${r.generatorGc.pauses} (max ${r.generatorGc.maxMs.toFixed(1)} ms)`,
  );
  for (const e of r.firstErrors) console.log(`  error: ${e}`);
  if (r.duplicates > 0) failed = true;
}
// The same replica count on both NATS set-ups, in this run: what replication costs.
for (const r3 of results.filter((r) => r.natsServers > 1)) {
  const r1 = results.find((r) => r.natsServers === 1 && r.replicas === r3.replicas);
  if (!r1) continue;
  console.log(
    `3-server R3 vs single server, ${r3.replicas} allocator replica(s): throughput ×${(r3.allocationsPerSecond / r1.allocationsPerSecond).toFixed(2)}, p50 ×${(r3.p50 / r1.p50).toFixed(2)}, p99 ×${(r3.p99 / r1.p99).toFixed(2)}`,
  );
}
console.log(`load average after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
process.exit(failed ? 1 : 0);
