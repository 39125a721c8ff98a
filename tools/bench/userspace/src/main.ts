/**
 * svcnet userspace proxy vs socat, same hop, same namespaces:
 *   client pod → node (proxy) → server pod
 * One long TCP stream (throughput) and many short connections (requests/s,
 * p50/p99 latency), plus the proxy's CPU. Run as root:
 *   npx nx run bench-userspace:bench      (or node tools/bench/userspace/dist/main.cjs run)
 * Sub-commands (used internally, each inside a namespace): proxy, serve-rr, rr.
 */
import { readFileSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { BridgeLab } from '@svcnet/testing';
import { runRequests, serveRequests } from './load.js';
import { runProxy } from './proxy.js';

const SELF = process.argv[1]!;
const STREAM_BYTES = Number(process.env.USP_BENCH_STREAM_MB ?? 1024) * 1024 * 1024;
const RR_SECONDS = Number(process.env.USP_BENCH_RR_SECONDS ?? 5);
const RR_CONCURRENCY = Number(process.env.USP_BENCH_CONCURRENCY ?? 32);
/** Rounds, interleaved across paths so that load from elsewhere hits all of them alike; medians are reported. */
const ROUNDS = Number(process.env.USP_BENCH_ROUNDS ?? 3);

const TICKS = 100; // USER_HZ

/** utime+stime+cutime+cstime in seconds: the process and its reaped children (socat forks). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / TICKS;
}

function waitExit(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => child.on('close', (code) => resolve(code ?? -1)));
}

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += String(d);
      const i = buf.indexOf('\n');
      if (i >= 0) resolve(buf.slice(0, i));
    });
    child.on('close', (code) => reject(new Error(`exited ${code} before answering`)));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Target {
  name: string;
  stream: string;
  rr: [string, number];
  /** Process whose CPU is charged to the stream / request phase (socat runs one parent per listener). */
  streamPid: number | undefined;
  rrPid: number | undefined;
}

interface Row {
  name: string;
  streamMBps: number;
  streamCpuPct: number;
  rps: number;
  rrCpuUsPerReq: number;
  rrCpuPct: number;
  p50Ms: number;
  p99Ms: number;
  p99c1Ms: number;
  errors: number;
}

async function measure(lab: BridgeLab, t: Target): Promise<Row> {
  const cl = lab.pod('cl').ns;
  // Long stream: socat on both ends (cheap, C), so the hop under test is the bottleneck.
  let cpu0 = t.streamPid ? cpuSeconds(t.streamPid) : 0;
  let started = performance.now();
  const sender = lab.spawn(cl, 'socat', ['-u', '-b', '262144', `OPEN:/dev/zero,readbytes=${STREAM_BYTES}`, `TCP:${t.stream}`]);
  if ((await waitExit(sender)) !== 0) throw new Error(`${t.name}: stream sender failed`);
  let seconds = (performance.now() - started) / 1000;
  await sleep(300);
  const streamCpu = t.streamPid ? cpuSeconds(t.streamPid) - cpu0 : 0;
  const streamMBps = STREAM_BYTES / 1024 / 1024 / seconds;
  const streamCpuPct = (streamCpu / seconds) * 100;

  const rr = async (concurrency: number, secs: number) => {
    const child = lab.spawn(cl, process.execPath, [SELF, 'rr', t.rr[0], String(t.rr[1]), String(concurrency), String(secs)]);
    return JSON.parse(await firstLine(child)) as Awaited<ReturnType<typeof runRequests>>;
  };
  const c1 = await rr(1, 2);
  cpu0 = t.rrPid ? cpuSeconds(t.rrPid) : 0;
  started = performance.now();
  const many = await rr(RR_CONCURRENCY, RR_SECONDS);
  seconds = (performance.now() - started) / 1000;
  await sleep(300);
  const rrCpu = t.rrPid ? cpuSeconds(t.rrPid) - cpu0 : 0;
  return {
    name: t.name,
    streamMBps,
    streamCpuPct,
    rps: many.rps,
    rrCpuUsPerReq: many.requests ? (rrCpu / many.requests) * 1e6 : 0,
    rrCpuPct: (rrCpu / seconds) * 100,
    p50Ms: many.p50Ms,
    p99Ms: many.p99Ms,
    p99c1Ms: c1.p99Ms,
    errors: many.errors + c1.errors,
  };
}

async function run(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the benchmark needs root (network namespaces)');
  // A node, a server pod and a client pod (usp-b<id>-*). Many short connections: reuse TIME_WAIT
  // ports and widen the port range, in these namespaces only.
  const lab = new BridgeLab({
    prefix: `usp-b${randomBytes(3).toString('hex')}`,
    sysctls: { 'net.ipv4.tcp_tw_reuse': '1', 'net.ipv4.ip_local_port_range': '10000 65000' },
  });
  try {
    await lab.create(['srv', 'cl']);
    const srv = lab.pod('srv');
    lab.spawn(srv.ns, 'socat', ['-u', '-b', '262144', 'TCP-LISTEN:7001,fork,reuseaddr,backlog=4096', 'OPEN:/dev/null']);
    lab.spawn(srv.ns, process.execPath, [SELF, 'serve-rr', '7002']);
    const socatStream = lab.spawn(lab.node, 'socat', ['TCP-LISTEN:8001,fork,reuseaddr,backlog=4096', `TCP:${srv.ip}:7001`]);
    const socatRr = lab.spawn(lab.node, 'socat', ['TCP-LISTEN:8002,fork,reuseaddr,backlog=4096', `TCP:${srv.ip}:7002`]);
    const proxy = lab.spawn(lab.node, process.execPath, [SELF, 'proxy', lab.nodeIP, srv.ip]);
    const ready = JSON.parse(await firstLine(proxy)) as { ports: Record<string, number> };
    await sleep(500);
    const targets: Target[] = [
      { name: 'direct (no proxy)', stream: `${srv.ip}:7001`, rr: [srv.ip, 7002], streamPid: undefined, rrPid: undefined },
      { name: 'socat fork (same hop)', stream: `${lab.nodeIP}:8001`, rr: [lab.nodeIP, 8002], streamPid: socatStream.pid, rrPid: socatRr.pid },
      { name: 'svcnet userspace (via ClusterIP)', stream: '10.96.0.1:7001', rr: ['10.96.0.2', 7002], streamPid: proxy.pid, rrPid: proxy.pid },
    ];
    const samples = new Map<string, Row[]>(targets.map((t) => [t.name, []]));
    for (let round = 1; round <= ROUNDS; round++) {
      for (const t of targets) {
        samples.get(t.name)!.push(await measure(lab, t));
        process.stderr.write(`round ${round}/${ROUNDS}: measured ${t.name}\n`);
      }
    }
    const rows = targets.map((t) => medianRow(samples.get(t.name)!));
    print(rows, ready.ports);
    proxy.kill('SIGTERM');
    await waitExit(proxy);
  } finally {
    await lab.destroy();
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** Per-metric median over the rounds. */
function medianRow(rows: Row[]): Row {
  const out = { ...rows[0]! };
  for (const k of Object.keys(out) as Array<keyof Row>) {
    if (k !== 'name') (out[k] as number) = median(rows.map((r) => r[k] as number));
  }
  out.errors = rows.reduce((n, r) => n + r.errors, 0);
  return out;
}

function print(rows: Row[], ports: Record<string, number>): void {
  const socat = rows.find((r) => r.name.startsWith('socat'))!;
  const svc = rows.find((r) => r.name.startsWith('svcnet'))!;
  const direct = rows.find((r) => r.name.startsWith('direct'))!;
  const f = (n: number, d = 0) => n.toFixed(d);
  console.log(`\nsvcnet userspace proxy vs socat — medians of ${ROUNDS} interleaved rounds; stream ${STREAM_BYTES / 1024 / 1024} MiB, short connections ${RR_CONCURRENCY}×${RR_SECONDS}s (proxy ports ${JSON.stringify(ports)})`);
  console.log('| path | stream MiB/s | proxy CPU % (stream) | short conns req/s | proxy CPU µs/req | p50 ms | p99 ms | p99 ms, 1 conn | errors |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(`| ${r.name} | ${f(r.streamMBps)} | ${r.name.startsWith('direct') ? '-' : f(r.streamCpuPct)} | ${f(r.rps)} | ${r.name.startsWith('direct') ? '-' : f(r.rrCpuUsPerReq)} | ${f(r.p50Ms, 2)} | ${f(r.p99Ms, 2)} | ${f(r.p99c1Ms, 2)} | ${r.errors} |`);
  }
  console.log(`\nsvcnet / socat: throughput ${f(svc.streamMBps / socat.streamMBps, 2)}×, connection rate ${f(svc.rps / socat.rps, 2)}×`);
  console.log(`added p99 latency (1 connection at a time) over direct: svcnet +${f(svc.p99c1Ms - direct.p99c1Ms, 2)} ms, socat +${f(socat.p99c1Ms - direct.p99c1Ms, 2)} ms`);
  console.log(JSON.stringify({ rows }));
}

async function main(): Promise<void> {
  const [cmd, ...args] = process.argv.slice(2);
  switch (cmd) {
    case 'serve-rr':
      serveRequests(Number(args[0]));
      return;
    case 'rr': {
      const stats = await runRequests({ host: args[0]!, port: Number(args[1]), concurrency: Number(args[2]), seconds: Number(args[3]) });
      process.stdout.write(JSON.stringify(stats) + '\n');
      return;
    }
    case 'proxy':
      return runProxy({
        nodeIP: args[0]!,
        services: [
          { id: 'bench/stream:', clusterIP: '10.96.0.1', port: 7001, endpoint: { ip: args[1]!, port: 7001 } },
          { id: 'bench/rr:', clusterIP: '10.96.0.2', port: 7002, endpoint: { ip: args[1]!, port: 7002 } },
        ],
      });
    case 'run':
    case undefined:
      return run();
    default:
      throw new Error(`unknown command ${cmd}`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
