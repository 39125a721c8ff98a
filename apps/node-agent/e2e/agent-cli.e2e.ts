/**
 * svcnet-agent as a process, in one network namespace of its own (nag-cli-…)
 * with a nats-server inside: --cleanup, --dump-rules, an unavailable mode,
 * /healthz + /metrics, and SIGTERM leaving the rules in place. Needs root.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessNetExec } from '@svcnet/netexec';
import { deleteNetns } from '@svcnet/testing';

const notRoot = process.getuid?.() === 0 ? undefined : 'needs root to create network namespaces';
const AGENT = resolve(import.meta.dirname, '../dist/main.cjs');
const NS = `nag-cli-${randomBytes(3).toString('hex')}`;
const exec = new ProcessNetExec();
const run = (file: string, args: string[], input?: string) =>
  exec.run({ file, args, netns: NS, allowFailure: true, timeoutMs: 60_000, ...(input ? { input } : {}) });
const requireHere = createRequire(import.meta.url);

describe.skipIf(notRoot !== undefined)(`svcnet-agent process${notRoot ? ` — skipped: ${notRoot}` : ''}`, () => {
  const children: ChildProcess[] = [];
  let storeDir = '';
  const agentArgs = ['--node-name', 'n1', '--node-ip', '127.0.0.1', '--iptables-backend', 'nft', '--nats-url', 'nats://127.0.0.1:4222'];

  const startNats = (): ChildProcess => {
    const nats = spawn('ip', ['netns', 'exec', NS, 'nats-server', '-js', '-a', '127.0.0.1', '-p', '4222', '-sd', storeDir], { stdio: 'ignore' });
    children.push(nats);
    return nats;
  };
  let nats: ChildProcess | undefined;

  beforeAll(async () => {
    await exec.run({ file: 'ip', args: ['netns', 'add', NS] });
    await run('ip', ['link', 'set', 'lo', 'up']);
    storeDir = mkdtempSync(join(tmpdir(), 'nag-cli-js-'));
    nats = startNats();
    // The state bucket, as the state service would create it.
    const script = `const { connect } = require(${JSON.stringify(requireHere.resolve('@nats-io/transport-node'))});
      const { Kvm } = require(${JSON.stringify(requireHere.resolve('@nats-io/kv'))});
      (async () => { for (let i = 0; i < 50; i++) { try { const nc = await connect({ servers: '127.0.0.1:4222' });
        await new Kvm(nc).create('svcnet-state', { history: 1 }); await nc.drain(); return; } catch { await new Promise((r) => setTimeout(r, 200)); } }
        process.exit(1); })();`;
    expect((await run(process.execPath, ['-e', script])).exitCode).toBe(0);
  });

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await deleteNetns(NS);
    rmSync(storeDir, { recursive: true, force: true });
  });

  it('a bad flag exits 2 with usage', async () => {
    const r = await run(process.execPath, [AGENT, '--sync-period', '30']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/sync-period/);
  });

  it('--dump-rules prints the plan for the current state without applying it', async () => {
    const r = await run(process.execPath, [AGENT, ...agentArgs, '--dump-rules']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/KUBE-SERVICES/);
    const save = await run('iptables-nft-save', []);
    expect(save.stdout).not.toMatch(/KUBE-SERVICES/);
  });

  it('runs: /healthz 200, /metrics with kube-proxy names; SIGTERM exits 0 and keeps the rules; --cleanup removes them', async () => {
    const agent = spawn('ip', ['netns', 'exec', NS, process.execPath, AGENT, ...agentArgs, '--sync-period', '1s', '--metrics-bind-address', '127.0.0.1:10249'], { stdio: 'ignore' });
    children.push(agent);
    let health = '';
    for (let i = 0; i < 100 && !health.endsWith('200'); i++) {
      await new Promise((r) => setTimeout(r, 200));
      health = (await run('curl', ['-s', '-w', ' %{http_code}', 'http://127.0.0.1:10256/healthz'])).stdout;
    }
    expect(health).toMatch(/"nodeName":"n1"[\s\S]* 200$/);
    let saved = '';
    for (let i = 0; i < 50 && !saved.includes('KUBE-SERVICES'); i++) {
      await new Promise((r) => setTimeout(r, 200));
      saved = (await run('iptables-nft-save', [])).stdout;
    }
    expect(saved).toMatch(/-A PREROUTING .*-j KUBE-SERVICES/);
    const metrics = (await run('curl', ['-s', 'http://127.0.0.1:10249/metrics'])).stdout;
    expect(metrics).toMatch(/^kubeproxy_sync_proxy_rules_duration_seconds_count [1-9]/m);
    expect(metrics).toMatch(/^process_resident_memory_bytes /m);
    const plan = (await run('curl', ['-s', 'http://127.0.0.1:10249/debug/plan'])).stdout;
    expect(plan).toMatch(/KUBE-SERVICES/);

    const exited = new Promise<number | null>((r) => agent.once('exit', (code) => r(code)));
    agent.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect((await run('iptables-nft-save', [])).stdout).toMatch(/KUBE-SERVICES/);

    const cleanup = await run(process.execPath, [AGENT, ...agentArgs, '--cleanup']);
    expect(cleanup.exitCode, cleanup.stderr).toBe(0);
    expect((await run('iptables-nft-save', [])).stdout).not.toMatch(/KUBE-/);
  });

  it('says when the feed goes away: log lines, svcnet_agent_feed_connected 0, /healthz 503 after --sync-period; then recovers', async () => {
    const agent = spawn(
      'ip',
      ['netns', 'exec', NS, process.execPath, AGENT, ...agentArgs, '--sync-period', '2s', '--healthz-bind-address', '127.0.0.1:10266', '--metrics-bind-address', '127.0.0.1:10259'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.push(agent);
    let logs = '';
    agent.stdout?.on('data', (b: Buffer) => (logs += b.toString()));
    agent.stderr?.on('data', (b: Buffer) => (logs += b.toString()));
    const curl = async (url: string) => (await run('curl', ['-s', '-w', ' %{http_code}', url])).stdout;
    const until = async (what: string, fn: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> => {
      const deadline = Date.now() + timeoutMs;
      while (!(await fn())) {
        if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms; agent log:\n${logs.slice(-3000)}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    const metric = async () => /^svcnet_agent_feed_connected (\d)/m.exec(await curl('http://127.0.0.1:10259/metrics'))?.[1];
    try {
      await until('healthy', async () => (await curl('http://127.0.0.1:10266/healthz')).endsWith(' 200'));
      expect(await metric()).toBe('1');
      const down = Date.now();
      nats!.kill('SIGKILL');
      await until('disconnect logged', async () => logs.includes('lost the connection to NATS'));
      expect(await metric()).toBe('0');
      await until('healthz 503', async () => (await curl('http://127.0.0.1:10266/healthz')).endsWith(' 503'));
      // Not before --sync-period (2 s), and well before the old 2x-sync-period-plus-heartbeats detection.
      expect(Date.now() - down).toBeGreaterThanOrEqual(1_900);
      expect(Date.now() - down).toBeLessThan(8_000);
      expect(await curl('http://127.0.0.1:10266/healthz')).toMatch(/"feedConnected":false/);
      nats = startNats();
      await until('reconnect logged', async () => logs.includes('reconnected to NATS'));
      expect(await metric()).toBe('1');
      await until('healthy again', async () => (await curl('http://127.0.0.1:10266/healthz')).endsWith(' 200'));
    } finally {
      agent.kill('SIGTERM');
    }
  });
});
