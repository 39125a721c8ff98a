/**
 * The control plane under faults, with real traffic: a 2-node namespace cluster
 * on a 3-server NATS cluster (R3 buckets) with per-program credentials and two
 * state replicas. Seeded churn keeps writing while a NATS server, the allocator,
 * a state replica and an agent are killed with SIGKILL; afterwards every
 * acknowledged write is there, no address is handed out twice, and every
 * service answers from exactly its ready pods on both nodes. Needs root.
 */
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, ControlPlanePorts } from '@svcnet/cluster';
import { seededRandom } from '@svcnet/proxy-core/testing';
import { e2eName } from '@svcnet/testing';
import { createService, deleteService, podsSeen, rawKvPut, requests, SERVICE_PORT, summarize, TARGET_PORT, whoServer, type Reply } from './harness.js';

const notRoot = process.getuid?.() === 0 ? undefined : 'needs root to create network namespaces';
const NAME = e2eName('nagflt');
const SEED = Number(process.env['SVCNET_CHURN_SEED'] ?? 20261203);
const MIN_SYNC_MS = 100;
const PORTS = [{ port: TARGET_PORT }];
const requireHere = createRequire(import.meta.url);


const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function eventually<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(200);
  }
}

/** What the churn believes about one service: acknowledged, or unknown because its last write got no answer. */
type Known = { exists: true; group: string | undefined; ip: string } | { exists: false };

/**
 * Seeded churn through the State API with client-side failover between the
 * two state replicas (as svcnetctl does with several servers). Every write
 * that was answered is recorded as acknowledged; a write that failed on both
 * replicas leaves its object uncertain until the next acknowledged write.
 */
class Churn {
  readonly services = new Map<string, Known>();
  readonly uncertain = new Set<string>();
  readonly pods = new Map<string, { group: string; ready: boolean }>();
  /** Pods whose last readiness flip got no answer from either replica. */
  readonly podsUncertain = new Set<string>();
  readonly log: string[] = [];
  failures = 0;
  private serial = 0;
  private readonly random: () => number;

  constructor(
    private readonly cluster: Cluster,
    seed: number,
    /** Prefix of the names this churn creates (each run its own). */
    private readonly prefix: string,
  ) {
    this.random = seededRandom(seed);
  }

  private pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.random() * items.length)]!;
  }

  /** Tries replica 0, then replica 1, a few rounds; true when one of them answered. */
  private async withFailover(op: (replica: number) => Promise<void>): Promise<boolean> {
    for (let round = 0; round < 4; round++) {
      for (const replica of [0, 1]) {
        try {
          await op(replica);
          return true;
        } catch {
          this.failures++;
        }
      }
      await sleep(250);
    }
    return false;
  }

  async addPod(): Promise<void> {
    const name = `${this.prefix}p-${++this.serial}`;
    const group = this.pick(['a', 'b']);
    await this.cluster.addPod({ name, node: this.pick(['node1', 'node2']), labels: { churn: this.prefix, group }, ports: PORTS, command: whoServer(TARGET_PORT) });
    this.pods.set(name, { group, ready: true });
  }

  async step(): Promise<void> {
    const roll = this.random();
    const live = [...this.services].filter(([, k]) => k.exists).map(([n]) => n);
    if (roll < 0.45 || live.length < 2) {
      const name = `${this.prefix}s-${++this.serial}`;
      const group = this.random() < 0.7 ? this.pick(['a', 'b']) : undefined;
      let ip = '';
      const ok = await this.withFailover(async (replica) => {
        const svc = await createService(this.cluster, { name, selector: group ? { churn: this.prefix, group } : { churn: this.prefix } }, replica);
        ip = svc.spec.clusterIP;
      });
      this.record(name, ok, { exists: true, group, ip });
    } else if (roll < 0.7) {
      const name = this.pick(live);
      const ok = await this.withFailover((replica) => deleteService(this.cluster, 'default', name, replica));
      this.record(name, ok, { exists: false });
    } else {
      const name = this.pick([...this.pods.keys()]);
      const pod = this.pods.get(name)!;
      const ready = !pod.ready;
      const ok = await this.withFailover((replica) => this.cluster.setPodReady(name, ready, replica));
      if (ok) {
        pod.ready = ready;
        this.podsUncertain.delete(name);
      } else {
        this.podsUncertain.add(name);
      }
      this.log.push(`${ready ? 'ready' : 'unready'} ${name}${ok ? '' : ' (no answer)'}`);
    }
  }

  private record(name: string, acknowledged: boolean, known: Known): void {
    this.log.push(`${known.exists ? '+' : '-'}svc ${name}${acknowledged ? '' : ' (no answer)'}`);
    if (acknowledged) {
      this.services.set(name, known);
      this.uncertain.delete(name);
    } else {
      this.uncertain.add(name);
    }
  }

  /** Runs steps until `until` (ms since the epoch), calling `at` hooks once their time has come. */
  async runUntil(until: number, hooks: { at: number; name: string; run: () => Promise<void> }[]): Promise<void> {
    const pending = [...hooks].sort((a, b) => a.at - b.at);
    while (Date.now() < until) {
      while (pending.length > 0 && Date.now() >= pending[0]!.at) {
        const hook = pending.shift()!;
        await hook.run();
        this.log.push(`[${hook.name}]`);
      }
      await this.step();
      await sleep(Math.floor(this.random() * 150));
    }
    for (const h of pending) {
      await h.run();
      this.log.push(`[${h.name}]`);
    }
  }
}

describe.skipIf(notRoot !== undefined)(`control plane under faults (3 NATS servers, credentials, 2 state replicas)${notRoot ? ` — skipped: ${notRoot}` : ''}`, () => {
  let cluster: Cluster | undefined;

  const stateServices = async (): Promise<Map<string, { ip: string; selector: Record<string, string> }>> => {
    // Either replica answers (a restarted one may still be opening its bucket): svcnetctl fails over between them.
    const out = await cluster!.ctl(['get', 'services', '-o', 'json']);
    const list = JSON.parse(out.stdout) as { items: { metadata: { name: string }; spec: { clusterIP: string; selector?: Record<string, string> } }[] };
    return new Map(list.items.map((s) => [s.metadata.name, { ip: s.spec.clusterIP, selector: s.spec.selector ?? {} }]));
  };

  /** The state bucket's stream as one NATS server reports it (its monitoring endpoint). */
  const stateStream = async (port: number) => {
    const r = await cluster!.exec('cp', ['curl', '-s', `http://127.0.0.1:${port}/jsz?streams=true&accounts=true`]);
    type Detail = { name: string; cluster: { leader?: string; replicas?: { name: string; current: boolean; lag?: number; active?: number }[] } };
    const jsz = JSON.parse(r.stdout) as { account_details?: { stream_detail?: Detail[] }[] };
    return jsz.account_details?.flatMap((a) => a.stream_detail ?? []).find((s) => s.name === 'KV_svcnet-state');
  };

  /** Every acknowledged write is there; uncertain ones are whatever the store says; none twice. */
  const checkAcknowledged = async (churn: Churn): Promise<Map<string, { ip: string; selector: Record<string, string> }>> => {
    const stored = await stateServices();
    for (const [name, known] of churn.services) {
      if (churn.uncertain.has(name)) continue;
      if (known.exists) {
        expect(stored.get(name)?.ip, `seed ${SEED}: acknowledged service ${name} after ${churn.log.join(', ')}`).toBe(known.ip);
      } else {
        expect(stored.has(name), `seed ${SEED}: acknowledged delete of ${name}`).toBe(false);
      }
    }
    const ips = [...stored.values()].map((s) => s.ip).filter((ip) => ip && ip !== 'None');
    expect(new Set(ips).size, `seed ${SEED}: a ClusterIP held twice: ${ips.join(' ')}`).toBe(ips.length);
    return stored;
  };

  /** Allocations and services agree: nothing leaked (after the repair loop), nothing unallocated. */
  const checkAllocations = async (stored: Map<string, { ip: string }>): Promise<void> => {
    let last = '';
    await eventually('allocations match services (repair loop released leaks)', 45_000, async () => {
      const tls = cluster!.tlsFiles('admin');
      const r = await cluster!.exec('cp', [process.execPath, '-e', LIST_ALLOCATIONS, '127.0.0.1:9001', ...(tls ? [tls.caFile, tls.certFile, tls.keyFile] : [])]);
      // ClusterIPs of the default namespace: the churn's services (kube-system/kube-dns is the cluster's own).
      const allocations = (JSON.parse(r.stdout) as { value: string; owner: string }[]).filter((a) => a.value.includes('.') && a.owner.startsWith('default/'));
      const byOwner = new Map(allocations.map((a) => [a.owner, a.value]));
      const want = new Map([...stored].filter(([, s]) => s.ip && s.ip !== 'None').map(([name, s]) => [`default/${name}`, s.ip]));
      const leaked = allocations.filter((a) => want.get(a.owner) !== a.value).map((a) => `${a.owner}=${a.value}`);
      const missing = [...want].filter(([owner, ip]) => byOwner.get(owner) !== ip).map(([owner, ip]) => `${owner}=${ip}`);
      last = `leaked [${leaked.join(' ')}] missing [${missing.join(' ')}]`;
      return leaked.length === 0 && missing.length === 0 ? true : undefined;
    }).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}: ${last}`);
    });
  };

  /** Pods as the state service holds them: acknowledged readiness flips are there. */
  const storedPods = async (churn: Churn): Promise<Map<string, { ready: boolean; labels: Record<string, string> }>> => {
    const out = await cluster!.ctl(['get', 'pods', '-o', 'json']);
    const list = JSON.parse(out.stdout) as { items: { metadata: { name: string; labels?: Record<string, string> }; status: { conditions?: { type: string; status: string }[] } }[] };
    const pods = new Map(
      list.items.map((p) => [p.metadata.name, { ready: p.status.conditions?.find((c) => c.type === 'Ready')?.status === 'True', labels: p.metadata.labels ?? {} }]),
    );
    for (const [name, pod] of churn.pods) {
      if (churn.podsUncertain.has(name)) continue;
      expect(pods.get(name)?.ready, `seed ${SEED}: acknowledged readiness of ${name}`).toBe(pod.ready);
    }
    return pods;
  };

  /** Every service answers from exactly the ready pods it selects (as stored), from a pod on each node. */
  const checkTraffic = async (churn: Churn, stored: Map<string, { ip: string; selector: Record<string, string> }>): Promise<void> => {
    const pods = await storedPods(churn);
    for (const [name, svc] of stored) {
      if (!churn.services.has(name) && !churn.uncertain.has(name)) continue;
      const want = [...pods]
        .filter(([, p]) => p.ready && Object.entries(svc.selector).every(([k, v]) => p.labels[k] === v))
        .map(([n]) => n)
        .sort();
      for (const client of ['client-1', 'client-2']) {
        let last: Reply[] = [];
        await eventually(`seed ${SEED}: ${client} → ${name} answers from [${want.join(' ')}]`, 30_000, async () => {
          last = await requests(cluster!, client, svc.ip, SERVICE_PORT, want.length > 0 ? 8 * want.length : 2, 1);
          if (want.length === 0) return last.every((r) => !r.ok) ? true : undefined;
          return last.every((r) => r.ok) && podsSeen(last).join(' ') === want.join(' ') ? true : undefined;
        }).catch(async (err: unknown) => {
          const ep = await cluster!.ctl(['get', 'endpoints', name, '-o', 'json'], { allowFailure: true });
          const node = client === 'client-1' ? 'node1' : 'node2';
          const rules = (await cluster!.exec(node, ['iptables-legacy-save'])).stdout.split('\n').filter((l) => l.includes(`default/${name} `));
          // What each state replica's endpoints controller did for this service (its debug lines).
          const controller: string[] = [];
          for (const replica of ['state', 'state-1']) {
            const log = await cluster!.exec('cp', ['cat', cluster!.logPath(replica)], { allowFailure: true });
            controller.push(`${replica}: ${log.stdout.split('\n').filter((l) => l.includes(`default/${name}"`) || l.includes('reconnected') || l.includes('resync')).slice(-12).join(' | ')}`);
          }
          throw new Error(
            `${(err as Error).message}; saw ${summarize(last)}; endpoints ${ep.stdout.replace(/\s+/g, ' ')}; ${node} rules: ${rules.join(' | ')}; controllers ${controller.join(' || ')}`,
          );
        });
      }
    }
  };

  beforeAll(async () => {
    cluster = await Cluster.up({
      name: NAME,
      nodes: 2,
      proxyMode: 'iptables',
      iptables: 'legacy',
      natsServers: 3,
      natsAuth: true,
      stateReplicas: 2,
      extraArgs: {
        // -v 1: the agents log each sync ("synced proxy rules", with its duration) for the restart case.
        agent: ['--sync-period', '2s', '--min-sync-period', `${MIN_SYNC_MS}ms`, '--v', '1'],
        // Debug logs: the endpoints controller's writes, for the failure message.
        state: ['--repair-interval-ms', '1000', '--v', '1'],
      },
    });
    await cluster.addPod({ name: 'client-1', node: 1, command: ['sleep', 'infinity'] });
    await cluster.addPod({ name: 'client-2', node: 2, command: ['sleep', 'infinity'] });
  }, 180_000);
  afterAll(async () => {
    if (cluster) await cluster.down();
    else await Cluster.down({ name: NAME });
  });

  it('a NATS server killed (-9) under churn: acknowledged writes kept, agents keep programming, the server catches up', { timeout: 300_000 }, async () => {
    // A follower of the state bucket's stream: nats-server 2.9 (Debian 12's) can leave a killed
    // *leader* unable to catch up after its restart (fixed upstream in 2.10); see the README.
    const leader = (await stateStream(ControlPlanePorts.natsMonitor))?.cluster.leader;
    const victim = [1, 2, 0].find((i) => `${NAME}-nats-${i}` !== leader)!;
    const component = victim === 0 ? 'nats' : `nats-${victim}`;
    const churn = new Churn(cluster!, SEED, 'n');
    for (let i = 0; i < 4; i++) await churn.addPod();
    const t0 = Date.now();
    await churn.runUntil(t0 + 14_000, [
      { at: t0 + 4_000, name: `kill ${component}`, run: () => cluster!.killComponent(component) },
      { at: t0 + 9_000, name: `start ${component}`, run: async () => void cluster!.startComponent(component) },
    ]);
    console.info(`[${NAME}] churn with a NATS server killed (seed ${SEED}, ${churn.failures} failed attempts): ${churn.log.join(', ')}`);
    const stored = await checkAcknowledged(churn);
    await checkTraffic(churn, stored);
    // The restarted server is back in the stream's replica set and in contact with its leader. Whether
    // its copy also catches up is nats-server's business: 2.9 (Debian 12's) may leave a replica of a server
    // killed with SIGKILL behind (fixed upstream in 2.10); the cluster stays writable with the other two.
    const restarted = `${NAME}-nats-${victim}`;
    const observer = ControlPlanePorts.natsMonitor + (victim === 0 ? 1 : 0);
    const replica = await eventually('the restarted NATS server rejoined the stream', 60_000, async () => {
      const detail = await stateStream(observer);
      if (detail?.cluster.leader === restarted) return { name: restarted, current: true, lag: 0, active: 0 };
      const r = detail?.cluster.replicas?.find((x) => x.name === restarted);
      return r && (r.active ?? Infinity) < 5e9 ? r : undefined;
    });
    console.info(`[${NAME}] restarted ${restarted}: ${JSON.stringify(replica)}`);
  });

  it('the allocator and a state replica killed (-9) under churn: nothing lost, nothing handed out twice, leaks released', { timeout: 300_000 }, async () => {
    const churn = new Churn(cluster!, SEED + 1, 'c');
    for (let i = 0; i < 2; i++) await churn.addPod();
    const t0 = Date.now();
    await churn.runUntil(t0 + 16_000, [
      { at: t0 + 3_000, name: 'kill state', run: () => cluster!.killComponent('state') },
      { at: t0 + 7_000, name: 'start state', run: async () => void cluster!.startComponent('state') },
      { at: t0 + 9_000, name: 'kill allocator', run: () => cluster!.killComponent('allocator') },
      { at: t0 + 12_000, name: 'start allocator', run: async () => void cluster!.startComponent('allocator') },
    ]);
    console.info(`[${NAME}] churn with allocator and state killed (seed ${SEED + 1}, ${churn.failures} failed attempts): ${churn.log.join(', ')}`);
    const stored = await checkAcknowledged(churn);
    await checkAllocations(stored);
    await checkTraffic(churn, stored);
  });

  it('an agent killed (-9), services changed meanwhile: after its restart its rules match the state at once', { timeout: 180_000 }, async () => {
    const before = await createService(cluster!, { name: 'agent-gone-old', selector: { churn: 'yes' } });
    const saved = async () => (await cluster!.exec('node2', ['iptables-legacy-save'])).stdout;
    await eventually('old service programmed on node2', 20_000, async () => ((await saved()).includes('default/agent-gone-old ') ? true : undefined));
    await cluster!.killComponent('agent-node2');
    await deleteService(cluster!, 'default', 'agent-gone-old');
    const fresh = await createService(cluster!, { name: 'agent-gone-new', selector: { churn: 'yes' } });
    const startedAt = Date.now();
    cluster!.startComponent('agent-node2');
    // "Feed synced" is the agent's own log line for its first sync after both initial lists.
    const programmedAt = await eventually('rules match the state on node2', 30_000, async () => {
      const rules = await saved();
      return rules.includes('default/agent-gone-new ') && !rules.includes('default/agent-gone-old ') && rules.includes(fresh.spec.clusterIP)
        ? Date.now()
        : undefined;
    });
    const log = (await cluster!.exec('cp', ['cat', cluster!.logPath('agent-node2')])).stdout.split('\n');
    const lastStart = log.map((l, i) => ({ l, i })).filter(({ l }) => l.includes('svcnet-agent started')).pop()?.i ?? 0;
    const synced = log.slice(lastStart).find((l) => l.includes('feed synced'));
    expect(synced, 'the restarted agent logs when its feed is synced').toBeDefined();
    const syncedAt = (JSON.parse(synced!) as { time: number }).time;
    // The agent's own record: its first sync after the feed was synced began within
    // 2× --min-sync-period (the time to write the rules is the kernel's, reported beside it).
    const firstSync = log
      .slice(lastStart)
      .map((l) => {
        try {
          return JSON.parse(l) as { time: number; msg?: string; seconds?: number };
        } catch {
          return undefined;
        }
      })
      .find((e) => e?.msg === 'synced proxy rules' && e.time >= syncedAt);
    expect(firstSync, 'the restarted agent logs its first sync (-v 1)').toBeDefined();
    const began = firstSync!.time - (firstSync!.seconds ?? 0) * 1000;
    console.info(`[${NAME}] restarted agent: sync began ${Math.round(began - syncedAt)} ms after the feed was synced, took ${Math.round((firstSync!.seconds ?? 0) * 1000)} ms`);
    expect(began - syncedAt).toBeLessThanOrEqual(2 * MIN_SYNC_MS);
    // And from outside: the rules are there well before a periodic sync (--sync-period 2s) could
    // have written them (the margin covers our 200 ms polling and iptables-save on a busy host).
    expect(programmedAt - syncedAt).toBeLessThanOrEqual(1_500);
    expect(programmedAt).toBeGreaterThan(startedAt);
    expect(before.spec.clusterIP).not.toBe('');
    await deleteService(cluster!, 'default', 'agent-gone-new');
  });

  it("an agent's credentials cannot put or delete in the state bucket; the object stays as it was", async () => {
    const svc = await createService(cluster!, { name: 'guarded', selector: { churn: 'yes' } });
    const key = 'services.default.guarded';
    await expect(rawKvPut(cluster!, [[key, new Uint8Array([1, 2, 3])]], 'svcnet-agent-node1')).rejects.toThrow(/permission|Permissions Violation|timeout/i);
    await expect(rawKvPut(cluster!, [[key, undefined]], 'svcnet-agent-node1')).rejects.toThrow(/permission|Permissions Violation|timeout/i);
    const stored = await stateServices();
    expect(stored.get('guarded')?.ip).toBe(svc.spec.clusterIP);
    const stateLog = (await cluster!.exec('cp', ['cat', cluster!.logPath('state')])).stdout;
    expect(stateLog).not.toMatch(/NATS refused/);
    await deleteService(cluster!, 'default', 'guarded');
  });
});

/** Lists the allocator's allocations over gRPC (run inside the control plane). */
const LIST_ALLOCATIONS = `
const grpc = require(${JSON.stringify(requireHere.resolve('@grpc/grpc-js'))});
const loader = require(${JSON.stringify(requireHere.resolve('@grpc/proto-loader'))});
const path = require('node:path');
const root = ${JSON.stringify(resolve(import.meta.dirname, '../../../proto'))};
const def = loader.loadSync(path.join(root, 'svcnet/v1/allocator.proto'), { includeDirs: [root], keepCase: false, longs: String, enums: Number });
const proto = grpc.loadPackageDefinition(def).svcnet.v1;
const fs = require('node:fs');
const [address, ca, cert, key] = process.argv.slice(1);
const creds = ca ? grpc.credentials.createSsl(fs.readFileSync(ca), fs.readFileSync(key), fs.readFileSync(cert)) : grpc.credentials.createInsecure();
const c = new proto.Allocator(address, creds);
c.listAllocations({}, (err, res) => {
  if (err) { console.error(err.message); process.exit(1); }
  console.log(JSON.stringify(res.allocations.map((a) => ({ value: a.value, owner: a.owner }))));
  c.close();
});`;
