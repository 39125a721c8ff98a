/**
 * svcnet-dns against a C authoritative server (Knot DNS from Debian) serving
 * the same zone of N services, loaded by dnsperf; plus service created →
 * resolvable latency and memory. Everything runs inside a throw-away network
 * namespace (loopback only), removed at the end. Root only.
 *
 *   node tools/bench/dns/dist/main.cjs [--services 10000] [--rounds 3] [--seconds 10] [--rate 10000] [--creates 200]
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import * as dnsPacket from 'dns-packet';
import { connectStore, openStateStores, type StateStores } from '@svcnet/store';
import { percentile, startNatsServer } from '@svcnet/testing';
import { parseDnsperf, parseVerboseLatencies, type DnsperfResult } from './dnsperf.js';
import { benchServices, queryFile, reverseZoneFile, zoneFile, type BenchService } from './zone-data.js';

const { values: opts } = parseArgs({
  options: {
    services: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '10' },
    rate: { type: 'string', default: '10000' },
    creates: { type: 'string', default: '200' },
    clients: { type: 'string', default: '10' },
  },
});
const SERVICES = Number(opts.services);
const ROUNDS = Number(opts.rounds);
const SECONDS = Number(opts.seconds);
const RATE = Number(opts.rate);
const CREATES = Number(opts.creates);
const CLIENTS = Number(opts.clients);
const SVCNET = { name: 'svcnet-dns', ip: '127.0.0.1' };
const KNOT = { name: 'knotd', ip: '127.0.0.2' };
/** The bare baseline for a Node server: dgram receive + send, nothing else (flips QR, echoes the query). */
const ECHO = { name: 'node-echo', ip: '127.0.0.3' };
const ECHO_SERVER = `
const s = require('node:dgram').createSocket('udp4');
s.on('message', (m, r) => { m[2] |= 0x80; s.send(m, r.port, r.address); });
s.bind(53, process.argv[1]);`;
/** V8's young generation capped as the svcnet-dns bin and the cluster run it (RSS). */
const DNS_NODE_FLAGS = ['--max-semi-space-size=2'];
const NS = `svcnet-dnsbench${process.env.SVCNET_E2E_TAG ?? ''}`;
const ROOT = resolve(process.env.SVCNET_ROOT ?? process.cwd());

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** Outside the namespace: make it, run this same program inside it, remove it. */
function outer(): number {
  if (process.getuid?.() !== 0) {
    console.error('bench-dns: needs root (it runs inside its own network namespace)');
    return 1;
  }
  for (const tool of ['dnsperf', 'knotd']) {
    if (spawnSync('sh', ['-c', `command -v ${tool} || test -x /usr/sbin/${tool}`]).status !== 0) {
      console.error(`bench-dns: ${tool} missing; run: bash tools/setup/prereqs.sh --bench-dns`);
      return 1;
    }
  }
  spawnSync('ip', ['netns', 'del', NS], { stdio: 'ignore' });
  if (spawnSync('ip', ['netns', 'add', NS], { stdio: 'inherit' }).status !== 0) return 1;
  try {
    spawnSync('ip', ['-n', NS, 'link', 'set', 'lo', 'up'], { stdio: 'inherit' });
    const r = spawnSync('ip', ['netns', 'exec', NS, process.execPath, ...process.argv.slice(1)], {
      stdio: 'inherit',
      env: { ...process.env, SVCNET_DNSBENCH_INSIDE: '1', PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin` },
    });
    return r.status ?? 1;
  } finally {
    // Processes still in the namespace (a crash) are ours: end them by PID, then drop it.
    const pids = spawnSync('ip', ['netns', 'pids', NS], { encoding: 'utf8' }).stdout.split(/\s+/).filter(Boolean).map(Number);
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    spawnSync('ip', ['netns', 'del', NS], { stdio: 'inherit' });
  }
}

function rssMiB(pid: number | undefined): number {
  if (!pid) return NaN;
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** One UDP question; the decoded answer or undefined on timeout. */
async function ask(ip: string, name: string, type: string, timeoutMs = 500): Promise<dnsPacket.DecodedPacket & { rcode?: string } | undefined> {
  const s = createSocket('udp4');
  try {
    return await new Promise((res) => {
      const timer = setTimeout(() => res(undefined), timeoutMs);
      s.on('message', (m) => {
        clearTimeout(timer);
        res(dnsPacket.decode(m) as dnsPacket.DecodedPacket & { rcode?: string });
      });
      s.send(dnsPacket.encode({ type: 'query', id: 1, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type: type as 'A' }] }), 53, ip);
    });
  } finally {
    s.close();
  }
}

async function waitAnswering(ip: string, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await ask(ip, 'dns-version.cluster.local', 'TXT');
    if (r?.rcode === 'NOERROR' && (r.answers?.length ?? 0) > 0) return;
    if (Date.now() > deadline) throw new Error(`${what} not answering on ${ip}:53 after ${timeoutMs} ms`);
    await sleep(100);
  }
}

function answerKey(r: (dnsPacket.DecodedPacket & { rcode?: string }) | undefined): string {
  if (!r) return 'TIMEOUT';
  const data = (r.answers ?? []).map((a) => `${a.type} ${JSON.stringify((a as { data: unknown }).data)}`).sort();
  return `${r.rcode} ${data.join(' | ')}`;
}

function dnsperf(ip: string, file: string, args: string[]): { result: DnsperfResult; stdout: string } {
  const r = spawnSync('dnsperf', ['-s', ip, '-d', file, '-T', '1', '-c', String(CLIENTS), '-l', String(SECONDS), ...args], {
    encoding: 'utf8',
    maxBuffer: 512 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`dnsperf failed: ${r.stderr}`);
  return { result: parseDnsperf(r.stdout), stdout: r.stdout };
}

async function seed(stores: StateStores, services: readonly BenchService[]): Promise<void> {
  for (let i = 0; i < services.length; i += 500) {
    await Promise.all(
      services.slice(i, i + 500).map(async ({ service, endpoints }) => {
        await stores.services.create(service);
        if (endpoints) await stores.endpoints.create(endpoints);
      }),
    );
  }
}

/** Service created in the store → svcnet-dns answers NOERROR for it: one poller per service, every 1 ms. */
async function createToResolvable(stores: StateStores, count: number): Promise<number[]> {
  const extra = benchServices(SERVICES + count).slice(SERVICES).filter((s) => !s.endpoints);
  const out: number[] = [];
  const polls: Promise<void>[] = [];
  for (const { service } of extra) {
    const name = `${service.metadata.name}.${service.metadata.namespace}.svc.cluster.local`;
    const started = performance.now();
    await stores.services.create(service);
    polls.push(
      (async () => {
        for (;;) {
          const r = await ask(SVCNET.ip, name, 'A', 200);
          if (r?.rcode === 'NOERROR' && (r.answers?.length ?? 0) > 0) {
            out.push(performance.now() - started);
            return;
          }
          if (performance.now() - started > 10_000) throw new Error(`${name} not resolvable after 10 s`);
          await sleep(1);
        }
      })(),
    );
    await sleep(50); // 20 creates per second
  }
  await Promise.all(polls);
  return out;
}

function range(values: number[], digits = 0): string {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return 'n/a';
  const lo = Math.min(...finite);
  const hi = Math.max(...finite);
  return lo === hi ? fmt(lo, digits) : `${fmt(lo, digits)} – ${fmt(hi, digits)}`;
}

async function inner(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'svcnet-dnsbench-'));
  const children: ChildProcess[] = [];
  const nats = await startNatsServer();
  try {
    for (const ip of [KNOT.ip, ECHO.ip]) spawnSync('ip', ['addr', 'add', `${ip}/8`, 'dev', 'lo'], { stdio: 'ignore' });
    const services = benchServices(SERVICES);
    const conn = await connectStore({ url: nats.url, name: 'bench-dns' });
    const stores = await openStateStores(conn);
    let t = performance.now();
    await seed(stores, services);
    console.log(`seeded ${fmt(SERVICES)} services (${services.filter((s) => s.endpoints).length} headless × 3 endpoints) in ${fmt(performance.now() - t)} ms`);

    writeFileSync(join(dir, 'cluster.local.zone'), zoneFile(services));
    writeFileSync(join(dir, '10.in-addr.arpa.zone'), reverseZoneFile(services));
    writeFileSync(join(dir, 'queries.txt'), queryFile(services));
    writeFileSync(
      join(dir, 'knot.conf'),
      [
        'server:',
        `    rundir: "${dir}"`,
        `    listen: ${KNOT.ip}@53`,
        'database:',
        `    storage: "${dir}"`,
        'log:',
        '  - target: stderr',
        '    any: warning',
        'template:',
        '  - id: default',
        `    storage: "${dir}"`,
        '    file: "%s.zone"',
        'zone:',
        '  - domain: cluster.local',
        '  - domain: 10.in-addr.arpa',
        '',
      ].join('\n'),
    );

    t = performance.now();
    // SVCNET_DNSBENCH_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' profiles the server under load.
    const nodeArgs = (process.env.SVCNET_DNSBENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
    const dns = spawn(process.execPath, [...DNS_NODE_FLAGS, ...nodeArgs, join(ROOT, 'apps/dns/dist/main.cjs'), '--listen', `${SVCNET.ip}:53`, '--nats-url', nats.url, '--metrics-bind-address', '127.0.0.1:9153'], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    children.push(dns);
    await waitAnswering(SVCNET.ip, 'svcnet-dns');
    for (;;) {
      const r = await fetch('http://127.0.0.1:9153/readyz').catch(() => undefined);
      if (r?.status === 200) break;
      await sleep(20);
    }
    const syncMs = performance.now() - t;
    const knot = spawn('knotd', ['-c', join(dir, 'knot.conf')], { stdio: ['ignore', 'ignore', 'inherit'] });
    children.push(knot);
    await waitAnswering(KNOT.ip, 'knotd');
    const echo = spawn(process.execPath, ['-e', ECHO_SERVER, ECHO.ip], { stdio: ['ignore', 'ignore', 'inherit'] });
    children.push(echo);
    await sleep(500);
    const rssIdle = rssMiB(dns.pid);
    const heap = await fetch('http://127.0.0.1:9153/metrics').then((r) => r.text());
    const used = [...heap.matchAll(/nodejs_heap_space_size_used_bytes\{space="([a-z_]+)"\} (\d+)/g)].map((m) => `${m[1]} ${fmt(Number(m[2]) / 2 ** 20, 1)}`);
    console.log(`svcnet-dns heap used (MiB): ${used.join(', ')}`);
    console.log(`svcnet-dns: start → synced ${fmt(syncMs)} ms, RSS ${fmt(rssIdle, 1)} MiB; knotd RSS ${fmt(rssMiB(knot.pid), 1)} MiB`);

    // The same questions must get the same answers from both.
    const sample = readFileSync(join(dir, 'queries.txt'), 'utf8').trim().split('\n').slice(0, 400);
    let mismatches = 0;
    for (const line of sample) {
      const [name, type] = line.split(' ') as [string, string];
      const [a, b] = await Promise.all([ask(SVCNET.ip, name, type), ask(KNOT.ip, name, type)]);
      if (answerKey(a) !== answerKey(b)) {
        mismatches++;
        if (mismatches <= 3) console.log(`  differs: ${line}\n    svcnet-dns: ${answerKey(a)}\n    knotd:      ${answerKey(b)}`);
      }
    }
    console.log(`same answers: ${sample.length - mismatches}/${sample.length} sample queries`);

    const qpsBy: Record<string, number[]> = { [SVCNET.name]: [], [KNOT.name]: [], [ECHO.name]: [] };
    const p50By: Record<string, number[]> = { [SVCNET.name]: [], [KNOT.name]: [] };
    const p99By: Record<string, number[]> = { [SVCNET.name]: [], [KNOT.name]: [] };
    const lostBy: Record<string, number[]> = { [SVCNET.name]: [], [KNOT.name]: [] };
    const file = join(dir, 'queries.txt');
    for (let round = 1; round <= ROUNDS; round++) {
      for (const server of round % 2 ? [KNOT, SVCNET] : [SVCNET, KNOT]) {
        const sat = dnsperf(server.ip, file, ['-q', '500']).result;
        qpsBy[server.name]!.push(sat.qps);
        if (server === SVCNET) {
          const bare = dnsperf(ECHO.ip, file, ['-q', '500']).result;
          qpsBy[ECHO.name]!.push(bare.qps);
          console.log(`round ${round} ${ECHO.name.padEnd(10)} saturation ${fmt(bare.qps)} q/s (Node's UDP path alone)`);
        }
        const paced = dnsperf(server.ip, file, ['-Q', String(RATE), '-q', '1000', '-v']);
        const lat = parseVerboseLatencies(paced.stdout);
        p50By[server.name]!.push(percentile(lat, 50));
        p99By[server.name]!.push(percentile(lat, 99));
        lostBy[server.name]!.push(paced.result.lost);
        console.log(
          `round ${round} ${server.name.padEnd(10)} saturation ${fmt(sat.qps)} q/s (lost ${sat.lost}); at ${fmt(RATE)} q/s: p50 ${fmt(percentile(lat, 50), 3)} ms, p99 ${fmt(percentile(lat, 99), 3)} ms, lost ${paced.result.lost}, load ${loadavg()[0]!.toFixed(1)}`,
        );
      }
    }
    const rssLoaded = rssMiB(dns.pid);
    const created = await createToResolvable(stores, CREATES);
    const ratio = qpsBy[SVCNET.name]!.map((q, i) => q / qpsBy[KNOT.name]![i]!);
    const echoRatio = qpsBy[SVCNET.name]!.map((q, i) => q / qpsBy[ECHO.name]![i]!);
    const echoKnot = qpsBy[ECHO.name]!.map((q, i) => q / qpsBy[KNOT.name]![i]!);
    const cpu = cpus();
    console.log('');
    console.log(`== ${new Date().toISOString().slice(0, 10)}, ${cpu.length} × ${cpu[0]?.model ?? '?'}, ${fmt(totalmem() / 2 ** 30)} GiB, load ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
    console.log(`zone: ${fmt(SERVICES)} services; dnsperf -T 1 -c ${CLIENTS}, ${SECONDS} s per run, ${ROUNDS} rounds; knotd ${spawnSync('knotd', ['-V'], { encoding: 'utf8' }).stdout.trim()}`);
    console.log(`| measure | svcnet-dns | knotd | ratio (svcnet-dns / knotd) |`);
    console.log(`|---|---|---|---|`);
    console.log(`| queries/s at saturation | ${range(qpsBy[SVCNET.name]!)} | ${range(qpsBy[KNOT.name]!)} | ${range(ratio, 2)}× |`);
    console.log(`| bare Node UDP responder (echo), queries/s | ${range(qpsBy[ECHO.name]!)} (svcnet-dns = ${range(echoRatio, 2)}× of it) | | echo / knotd ${range(echoKnot, 2)}× |`);
    console.log(`| p50 at ${fmt(RATE)} q/s | ${range(p50By[SVCNET.name]!, 3)} ms | ${range(p50By[KNOT.name]!, 3)} ms | |`);
    console.log(`| p99 at ${fmt(RATE)} q/s | ${range(p99By[SVCNET.name]!, 3)} ms | ${range(p99By[KNOT.name]!, 3)} ms | |`);
    console.log(`| queries lost at ${fmt(RATE)} q/s | ${range(lostBy[SVCNET.name]!)} | ${range(lostBy[KNOT.name]!)} | |`);
    console.log(`| RSS with the zone (idle / after load) | ${fmt(rssIdle, 1)} / ${fmt(rssLoaded, 1)} MiB | ${fmt(rssMiB(knot.pid), 1)} MiB | |`);
    console.log(
      `| service created → resolvable (${created.length} creates at 20/s) | p50 ${fmt(percentile(created, 50), 1)} ms, p99 ${fmt(percentile(created, 99), 1)} ms, max ${fmt(Math.max(...created), 1)} ms | | |`,
    );
    await conn.close();
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await sleep(300);
    await nats.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.env.SVCNET_DNSBENCH_INSIDE) {
  inner().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
} else {
  process.exit(outer());
}
