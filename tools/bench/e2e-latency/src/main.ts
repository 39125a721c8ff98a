/**
 * svcnet end-to-end latency: a service created with `svcnetctl expose` → the
 * first TCP connection to its ClusterIP succeeds from a pod on each node of a
 * 2-node cluster in network namespaces. Prints p50/p90/p99/max over N services.
 *
 *   node tools/bench/e2e-latency/dist/main.cjs [--services 100] [--iptables nft|legacy|auto]
 *                                              [--kill-nats-at N [--nats-down-for M]]
 *
 * With --kill-nats-at, the nats-server leading the state bucket's stream is
 * killed (SIGKILL) just before service N is created and started again M
 * services later: the figures for the services created meanwhile show what a
 * NATS failure costs (leader election, reconnects) against the rest of the run.
 */
import { existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';
import { Cluster, PodCommands, type IptablesVariant, type ProxyModeName } from '@svcnet/cluster';
import { summarize, type Summary } from '@svcnet/testing';

/**
 * Runs in a client pod: connects to ip:port every few ms (attempts overlap,
 * so a SYN lost before the rules exist never delays the next) until one
 * connection is established; prints the wall-clock time of that moment.
 */
const POLLER = `
const net = require('node:net');
const fs = require('node:fs');
const [readyFile, ip, port, timeoutMs] = process.argv.slice(1);
const deadline = Date.now() + Number(timeoutMs);
let done = false;
let attempts = 0;
const finish = (line) => { if (!done) { done = true; process.stdout.write(line); process.exit(0); } };
const attempt = () => {
  if (done) return;
  if (Date.now() > deadline) return finish(JSON.stringify({ ok: false, attempts }));
  attempts++;
  const s = net.connect({ host: ip, port: Number(port) });
  const t = setTimeout(() => s.destroy(), 1000);
  s.on('connect', () => { const at = Date.now(); clearTimeout(t); s.destroy(); finish(JSON.stringify({ ok: true, at, attempts })); });
  s.on('error', () => clearTimeout(t));
};
setInterval(attempt, 5);
attempt();
fs.writeFileSync(readyFile, String(Date.now()));
`;

interface BenchOptions {
  services: number;
  iptables: IptablesVariant;
  proxyMode: ProxyModeName;
  name: string;
  keep: boolean;
  agentArg: string[];
  killNatsAt?: number;
  natsDownFor: number;
}

function positive(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new InvalidArgumentError('must be an integer in 1..1000');
  return n;
}

/** The i-th (1-based) ClusterIP the bench requests: 10.96.250.1 onwards, inside the cluster's service range. */
export function benchClusterIp(i: number): string {
  return `10.96.${250 + Math.floor((i - 1) / 250)}.${((i - 1) % 250) + 1}`;
}

async function waitForFile(path: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(path)) {
    if (Date.now() > deadline) throw new Error(`poller did not start within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function fmt(s: Summary): string {
  const ms = (v: number) => `${Math.round(v)} ms`.padStart(8);
  return `p50 ${ms(s.p50)}  p90 ${ms(s.p90)}  p99 ${ms(s.p99)}  max ${ms(s.max)}  mean ${ms(s.mean)}`;
}

async function agentProgrammingMetric(cluster: Cluster, node: string): Promise<string> {
  const r = await cluster.exec(node, ['curl', '-s', '-m', '3', 'http://127.0.0.1:10249/metrics'], { allowFailure: true });
  const pick = (suffix: string) =>
    Number(new RegExp(`^kubeproxy_network_programming_duration_seconds_${suffix} (\\S+)$`, 'm').exec(r.stdout)?.[1] ?? NaN);
  const sum = pick('sum');
  const count = pick('count');
  return `${node}: ${count} observations, mean ${Math.round((sum / count) * 1000)} ms`;
}

/** The cluster component (`nats`, `nats-1`, …) whose server leads the svcnet-state stream, from its /jsz. */
async function stateStreamLeader(cluster: Cluster): Promise<string> {
  const r = await cluster.exec('cp', ['curl', '-s', '-m', '3', 'http://127.0.0.1:8222/jsz?accounts=true&streams=true'], { allowFailure: true });
  const leader = /"name":"KV_svcnet-state"[\s\S]*?"leader":"([^"]+)"/.exec(r.stdout)?.[1];
  const index = leader ? Number(/-nats-(\d+)$/.exec(leader)?.[1]) : NaN;
  if (!Number.isInteger(index)) return 'nats-1';
  return index === 0 ? 'nats' : `nats-${index}`;
}

async function run(o: BenchOptions): Promise<void> {
  // One xtables lock per cluster (each node namespace has its own tables), so other
  // iptables users on this machine cannot stall the agents being measured.
  process.env.XTABLES_LOCKFILE = join(tmpdir(), `svcnet-${o.name}.xtables.lock`);
  const log = (m: string) => process.stderr.write(`${m}\n`);
  log(`bringing up a 2-node cluster "${o.name}" (${o.proxyMode}, iptables ${o.iptables})…`);
  const cluster = await Cluster.up({
    name: o.name,
    nodes: 2,
    proxyMode: o.proxyMode,
    iptables: o.iptables,
    // The bundle lives in tools/bench/e2e-latency/dist: four levels below the checkout.
    repoRoot: process.env.SVCNET_ROOT ?? fileURLToPath(new URL('../../../../', import.meta.url)),
    extraArgs: { agent: o.agentArg },
  });
  try {
    if (cluster.skipped.length > 0) throw new Error(`cluster incomplete: ${cluster.skipped.join('; ')}`);
    const ports = [{ port: 8080 }];
    await cluster.addPod({ name: 'web-1', node: 'node1', labels: { app: 'web' }, ports, command: PodCommands.tcpEcho(8080) });
    await cluster.addPod({ name: 'web-2', node: 'node2', labels: { app: 'web' }, ports, command: PodCommands.tcpEcho(8080) });
    await cluster.addPod({ name: 'client-1', node: 'node1', command: [] });
    await cluster.addPod({ name: 'client-2', node: 'node2', command: [] });
    const clients = ['client-1', 'client-2'];
    const total: number[] = [];
    const afterCreate: number[] = [];
    const ctl: number[] = [];
    const failures: string[] = [];
    const duringKill: number[] = [];
    const outsideKill: number[] = [];
    const killWindowAfterCreate: number[] = [];
    let killed: string | undefined;
    let unavailable = 0;
    for (let i = 1; i <= o.services; i++) {
      if (o.killNatsAt === i) {
        killed = await stateStreamLeader(cluster);
        log(`  killing ${killed} (SIGKILL) before service ${i}`);
        await cluster.killComponent(killed);
      }
      if (killed && o.killNatsAt !== undefined && i === o.killNatsAt + o.natsDownFor) {
        log(`  starting ${killed} again before service ${i}`);
        cluster.startComponent(killed);
      }
      const inKillWindow = o.killNatsAt !== undefined && i >= o.killNatsAt && i < o.killNatsAt + o.natsDownFor + 5;
      const ip = benchClusterIp(i);
      const ready = clients.map((c) => join(cluster.state.stateDir, `poller-${c}-${i}.ready`));
      // While a NATS server is down a change may take long: wait up to 2 minutes then.
      const pollMs = inKillWindow ? 120_000 : 30_000;
      const pollers = clients.map((c, k) =>
        cluster
          .exec(c, [process.execPath, '-e', POLLER, ready[k] as string, ip, '80', String(pollMs)], { timeoutMs: pollMs + 15_000 })
          .catch((err: unknown) => ({ stdout: JSON.stringify({ ok: false, error: (err as Error).message.split('\n')[0] }) })),
      );
      for (const f of ready) await waitForFile(f, 20_000);
      const t0 = Date.now();
      const expose = ['expose', 'pod', 'web-1', '--port', '80', '--target-port', '8080', '--name', `bench-${i}`, '--selector', 'app=web', '--cluster-ip', ip];
      // While NATS elects a new leader the state service answers UNAVAILABLE: retry, as a
      // user or controller would, and count the refusals (a retry may find the service made).
      for (;;) {
        const r = await cluster.ctl(['--request-timeout', '120s', ...expose], { timeoutMs: 130_000, allowFailure: true });
        if (r.exitCode === 0 || /AlreadyExists|already exists/.test(r.stderr)) break;
        if (!/ServiceUnavailable|Unavailable|timeout/i.test(r.stderr) || Date.now() - t0 > 120_000) throw new Error(`expose bench-${i}: ${r.stderr.trim()}`);
        unavailable++;
        await new Promise((res) => setTimeout(res, 200));
      }
      const created = Date.now();
      const results = (await Promise.all(pollers)).map((r) => JSON.parse(r.stdout) as { ok: boolean; at?: number });
      for (const f of ready) rmSync(f, { force: true });
      if (results.some((r) => !r.ok || r.at === undefined)) {
        failures.push(`bench-${i} (${ip}): no connection within ${pollMs / 1000} s`);
        continue;
      }
      const flows = Math.max(...results.map((r) => r.at as number));
      total.push(flows - t0);
      afterCreate.push(flows - created);
      (inKillWindow ? duringKill : outsideKill).push(flows - t0);
      if (inKillWindow) killWindowAfterCreate.push(flows - created);
      ctl.push(created - t0);
      if (i % 10 === 0) log(`  ${i}/${o.services} services`);
    }
    const metrics = await Promise.all(['node1', 'node2'].map((n) => agentProgrammingMetric(cluster, n)));
    process.stdout.write(
      [
        `svcnet e2e latency: ${o.services} services, 2 nodes, ${o.proxyMode} mode (iptables ${o.iptables}), traffic from a pod on each node`,
        `  svcnetctl expose → traffic flows on both nodes:  ${fmt(summarize(total))}`,
        `  svcnetctl exits  → traffic flows on both nodes:  ${fmt(summarize(afterCreate))}`,
        `  svcnetctl expose (process start to exit):        ${fmt(summarize(ctl))}`,
        `  agents' kubeproxy_network_programming_duration_seconds: ${metrics.join('; ')}`,
        ...(o.killNatsAt !== undefined
          ? [
              `  NATS server ${killed ?? '?'} killed before service ${o.killNatsAt}, started again before ${o.killNatsAt + o.natsDownFor}:`,
              `    expose → traffic, services ${o.killNatsAt}…${o.killNatsAt + o.natsDownFor + 4} (down + 5 after): ${fmt(summarize(duringKill))}`,
              `    expose → traffic, every other service:             ${fmt(summarize(outsideKill))}`,
              `    longest gap between a change stored and traffic on both nodes in that window: ${Math.round(Math.max(...killWindowAfterCreate))} ms`,
              `    expose attempts refused as unavailable (retried): ${unavailable}`,
            ]
          : []),
        ...(failures.length ? [`  FAILURES (${failures.length}): ${failures.slice(0, 5).join('; ')}`] : []),
        '',
      ].join('\n'),
    );
    if (failures.length) process.exitCode = 1;
  } finally {
    if (o.keep) log(`--keep: cluster ${o.name} left running (svcnet-cluster down --name ${o.name})`);
    else await cluster.down();
  }
}

const program = new Command('bench-e2e-latency')
  .description('svcnetctl expose → first connection through the ClusterIP, from a pod on each of 2 nodes')
  .option('--services <n>', 'services to create, one after another', positive, 100)
  .addOption(new Option('--iptables <variant>', 'iptables binaries the agents use').choices(['auto', 'legacy', 'nft']).default('nft'))
  .addOption(new Option('--proxy-mode <mode>', 'agents\' proxy mode').choices(['iptables', 'ipvs', 'userspace', 'nftables']).default('iptables'))
  .option('--name <cluster>', 'cluster name (namespace prefix)', 'nagbench')
  .option('--keep', 'leave the cluster running', false)
  .option('--agent-arg <flag...>', 'extra svcnet-agent flags (e.g. --agent-arg=--min-sync-period=0)', [] as string[])
  .option('--kill-nats-at <n>', 'SIGKILL the nats-server leading the state stream before service n', positive)
  .option('--nats-down-for <m>', 'start it again m services later', positive, 10);

if (process.getuid?.() !== 0) {
  process.stderr.write('bench-e2e-latency: needs root (network namespaces)\n');
  process.exit(1);
}
program.parse();
run(program.opts<BenchOptions>()).catch((err: unknown) => {
  process.stderr.write(`bench-e2e-latency: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
