/**
 * Node status and "is my change programmed everywhere?" with real agents: a
 * 2-node namespace cluster on the default control plane (3 NATS servers,
 * per-program credentials), iptables-legacy. `svcnetctl wait --for=programmed`
 * and `apply --wait` must return only once traffic flows through the new rules
 * on both nodes — while the agents have received a change but cannot program
 * it (the test holds the xtables lock their iptables-restore -w waits for),
 * the wait goes on; a stopped agent turns NotReady after three missed
 * heartbeats (1 s each here), is then not waited for, and is forgotten after
 * the record TTL. Needs root.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from '@svcnet/cluster';
import { e2eName } from '@svcnet/testing';
import { createService, eventually, requests, sleep, TARGET_PORT, whoServer } from './harness.js';

const notRoot = process.getuid?.() === 0 ? undefined : 'needs root to create network namespaces';
const NAME = e2eName('fleet');
const HEARTBEAT_MS = 1_000;
// Long enough that the NotReady checks (each a svcnetctl run, seconds on a loaded machine) happen before it.
const RECORD_TTL_MS = 20_000;

interface NodeJson {
  metadata: { name: string };
  status: { conditions: { type: string; status: string }[]; proxy: { programmedRevision: number; feedRevision: number; lag: number } };
}

/** Holds an exclusive flock on `path` (iptables' xtables lock) until release() closes its stdin. */
async function holdLock(path: string): Promise<{ release(): Promise<void> }> {
  const holder: ChildProcess = spawn('python3', ['-c', 'import fcntl,sys; f=open(sys.argv[1],"a"); fcntl.flock(f, fcntl.LOCK_EX); print("locked", flush=True); sys.stdin.read()', path], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    holder.stdout!.on('data', (b: Buffer) => (b.toString().includes('locked') ? resolve() : undefined));
    holder.once('exit', (code) => reject(new Error(`lock holder exited (${code})`)));
  });
  return {
    release: () =>
      new Promise<void>((resolve) => {
        holder.removeAllListeners('exit');
        holder.once('exit', () => resolve());
        holder.stdin!.end();
      }),
  };
}

describe.skipIf(notRoot)(`fleet status with real agents (${notRoot ?? 'root'})`, () => {
  let cluster: Cluster | undefined;

  const ctl = async (args: string[], input?: string) => {
    const r = await cluster!.ctl(args, { allowFailure: true, timeoutMs: 60_000, ...(input !== undefined ? { input } : {}) });
    return { code: r.exitCode, stdout: r.stdout, stderr: r.stderr };
  };
  const nodes = async (): Promise<Map<string, NodeJson>> => {
    const r = await ctl(['get', 'nodes', '-o', 'json']);
    const list = JSON.parse(r.stdout) as { items: NodeJson[] };
    return new Map(list.items.map((n) => [n.metadata.name, n]));
  };
  const ready = (n: NodeJson | undefined): string | undefined => n?.status.conditions.find((c) => c.type === 'Ready')?.status;
  /** One request from a node's namespace: does the service answer through its rules right now? */
  const answers = async (node: string, ip: string, port: number, timeoutS = 1): Promise<boolean> => {
    const [r] = await requests(cluster!, node, ip, port, 1, timeoutS);
    return r?.ok === true;
  };

  beforeAll(async () => {
    cluster = await Cluster.up({
      name: NAME,
      nodes: 2,
      dns: false,
      iptables: 'legacy',
      extraArgs: { agent: ['--node-status-interval', `${HEARTBEAT_MS}ms`], state: ['--node-record-ttl', `${RECORD_TTL_MS}ms`] },
    });
    await cluster.addPod({ name: 'who', node: 1, labels: { app: 'who' }, ports: [{ port: TARGET_PORT }], command: whoServer(TARGET_PORT) });
    await eventually('both nodes Ready', 30_000, async () => {
      const n = await nodes();
      return ready(n.get('node1')) === 'True' && ready(n.get('node2')) === 'True' ? true : undefined;
    });
  });
  afterAll(async () => {
    await cluster?.down();
  });

  it('get nodes: both agents report, with mode, programmed revision and no lag', async () => {
    const r = await ctl(['get', 'nodes']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+STATUS\s+MODE\s+PROGRAMMED\s+LAG\s+AGE\s+VERSION$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/).slice(0, 3).join(' '))).toEqual(['node1 Ready iptables', 'node2 Ready iptables']);
    for (const n of (await nodes()).values()) expect(n.status.proxy.programmedRevision).toBeGreaterThan(0);
  });

  it('wait --for=programmed returns only after traffic flows through the new rules on both nodes', { timeout: 120_000 }, async () => {
    // Both agents receive the change at once but cannot program it while we hold the xtables lock.
    const lock = await holdLock(cluster!.xtablesLock());
    let svc;
    let returnedAt = 0;
    let waited: Promise<{ code: number; stdout: string; stderr: string }>;
    try {
      svc = await createService(cluster!, { name: 'who', selector: { app: 'who' } });
      const revision = svc.metadata.resourceVersion;
      waited = ctl(['wait', '--for=programmed', 'service/who', '--timeout', '30s']).then((r) => {
        returnedAt = Date.now();
        return r;
      });
      const seen = await eventually('both agents received the change', 10_000, async () => {
        const n = [...(await nodes()).values()];
        return n.length === 2 && n.every((x) => x.status.proxy.feedRevision >= revision) ? n : undefined;
      });
      for (const n of seen) expect(n.status.proxy.programmedRevision, `${n.metadata.name} cannot have programmed it`).toBeLessThan(revision);
      expect(await answers('node2', svc.spec.clusterIP, 80, 0.5), 'no rules yet on node2').toBe(false);
      await sleep(1_000);
      expect(returnedAt, 'the wait is still waiting').toBe(0);
    } finally {
      await lock.release();
    }
    const released = Date.now();
    const r = await waited;
    expect(r, r.stderr).toMatchObject({ code: 0, stdout: expect.stringMatching(/^service\/who condition met \(revision \d+ programmed on 2 nodes\)\n$/) });
    expect(returnedAt - released).toBeLessThan(10_000);
    // At the moment it returned, both nodes carry the rules: one request each, no retries.
    expect(await answers('node1', svc.spec.clusterIP, 80)).toBe(true);
    expect(await answers('node2', svc.spec.clusterIP, 80)).toBe(true);
  });

  it('apply --wait: the applied change is programmed on both nodes when it returns', { timeout: 60_000 }, async () => {
    const manifest = `apiVersion: v1
kind: Service
metadata: {name: who}
spec:
  selector: {app: who}
  ports: [{port: 81, targetPort: ${TARGET_PORT}}]
`;
    const r = await ctl(['apply', '-f', '-', '--wait', '--timeout', '30s'], manifest);
    expect(r, r.stderr).toMatchObject({ code: 0, stdout: expect.stringContaining('service/who configured\nservice/who condition met') });
    const ip = JSON.parse((await ctl(['get', 'svc', 'who', '-o', 'json'])).stdout).spec.clusterIP as string;
    expect(await answers('node1', ip, 81)).toBe(true);
    expect(await answers('node2', ip, 81)).toBe(true);
  });

  it('a stopped agent is NotReady after three missed heartbeats, is not waited for, and is forgotten after the record TTL', { timeout: 120_000 }, async () => {
    const stoppedAt = Date.now();
    await cluster!.killComponent('agent-node2', 'SIGTERM');
    const notReadyAfter = await eventually('node2 NotReady', 20_000, async () => (ready((await nodes()).get('node2')) === 'False' ? Date.now() - stoppedAt : undefined), 250);
    expect(notReadyAfter).toBeGreaterThanOrEqual(2 * HEARTBEAT_MS);
    expect(ready((await nodes()).get('node1'))).toBe('True');

    // A wait no longer counts on node2, and says so.
    const r = await ctl(['wait', '--for=programmed', 'service/who', '--timeout', '10s']);
    expect(r).toMatchObject({ code: 0, stdout: expect.stringContaining('programmed on 1 node)'), stderr: expect.stringContaining('not waiting for NotReady node(s): node2') });

    const goneAfter = await eventually('node2 forgotten', RECORD_TTL_MS + 30_000, async () => ((await nodes()).has('node2') ? undefined : Date.now() - stoppedAt), 500);
    expect(goneAfter).toBeGreaterThanOrEqual(RECORD_TTL_MS - 1_000);

    cluster!.startComponent('agent-node2');
    await eventually('node2 Ready again', 30_000, async () => (ready((await nodes()).get('node2')) === 'True' ? true : undefined), 250);
  });
});
