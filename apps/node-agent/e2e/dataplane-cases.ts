/**
 * THE proof of the product: one table of data-plane cases, run with real
 * traffic on a 2-node cluster in network namespaces, parameterized by proxy
 * mode. iptables.e2e.ts runs it for both iptables variants; the IPVS,
 * userspace and nftables modes call `runDataplaneSuite` with their own mode
 * and inspector (and may skip a case they cannot do, saying why).
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serviceCodec } from '@svcnet/api';
import { Cluster, type IptablesVariant, type ProxyModeName } from '@svcnet/cluster';
import { seededRandom } from '@svcnet/proxy-core/testing';
import {
  agentHttp,
  createService,
  deleteService,
  eventually,
  nodePortOf,
  podsSeen,
  probeOnce,
  type Reply,
  rawKvPut,
  requests,
  sleep,
  summarize,
  SERVICE_PORT,
  TARGET_PORT,
  udpFlow,
  udpWhoServer,
  waitForFile,
  waitReachable,
  whoServer,
} from './harness.js';
import type { ModeInspector } from './mode-inspectors.js';
import { DNS_TTL_SECONDS, dnsCases } from './dns-cases.js';
import { EXTERNAL_IP_CIDR, policyCases, SERVICE_CIDR } from './policy-cases.js';
import { LOAD_BALANCER_POOL, loadBalancerCases } from './load-balancer-cases.js';
import { localhostCases } from './localhost-cases.js';
import { serviceIpCases } from './service-ip-cases.js';
import { terminatingCases } from './terminating-cases.js';
import type { CaseContext, DataplaneCase } from './case-types.js';

export type { CaseContext, DataplaneCase } from './case-types.js';

/** Options of {@link runDataplaneSuite}. */
export interface DataplaneSuiteOptions {
  mode: ProxyModeName;
  /** Cluster name: the namespace prefix (`[a-z][a-z0-9]{0,11}`, unique per suite). */
  clusterName: string;
  inspector: ModeInspector;
  iptables?: IptablesVariant;
  /** The agents' --sync-period in ms (short, so drift repair is quick to prove). Default 2000. */
  syncPeriodMs?: number;
  /** Cases this mode cannot do: case name → reason (shown as a skipped test). */
  skip?: Readonly<Record<string, string>>;
  /** Extra agent flags. */
  agentArgs?: readonly string[];
  /** A reason to skip the whole suite (e.g. not root); undefined runs it. */
  skipAll?: string;
  /** False when the mode cannot keep client addresses (userspace): the source checks of the cases are left out. */
  preservesSource?: boolean;
}

const WHO = whoServer(TARGET_PORT);
const PORTS = [{ port: TARGET_PORT }];
const UDP_SERVICE_PORT = 53;
const UDP_TARGET_PORT = 8053;

async function clientsReach(ctx: CaseContext, from: string, ip: string, port: number, count: number) {
  const replies = await requests(ctx.cluster, from, ip, port, count);
  expect(replies.filter((r) => !r.ok), `${from} → ${ip}:${port}: ${summarize(replies)}`).toEqual([]);
  expect(replies).toHaveLength(count);
  return replies;
}

function agentPid(cluster: Cluster, node: string): number {
  const rec = cluster.status().find((p) => p.component === `agent-${node}`);
  if (!rec?.running) throw new Error(`agent on ${node} is not running`);
  return rec.pid;
}

/** The table. Order matters only in that the last cases disturb agents. */
export const dataplaneCases: readonly DataplaneCase[] = [
  {
    name: 'ClusterIP from a pod on each node reaches pods on both nodes',
    async run(ctx) {
      const ip = ctx.web.spec.clusterIP;
      const [a, b] = await Promise.all([
        clientsReach(ctx, 'client-1', ip, SERVICE_PORT, 50),
        clientsReach(ctx, 'client-2', ip, SERVICE_PORT, 50),
      ]);
      expect(podsSeen(a), summarize(a)).toEqual(['web-1', 'web-2']);
      expect(podsSeen(b), summarize(b)).toEqual(['web-1', 'web-2']);
    },
  },
  {
    name: 'NodePort from an external namespace to either node reaches a pod on the other node, source masqueraded',
    async run(ctx) {
      const svc = await createService(ctx.cluster, { name: 'web-np', type: 'NodePort', selector: { app: 'web' } });
      const np = nodePortOf(svc);
      const n1 = ctx.cluster.nodeIp('node1');
      const n2 = ctx.cluster.nodeIp('node2');
      await waitReachable(ctx.cluster, 'ext', n1, np);
      await waitReachable(ctx.cluster, 'ext', n2, np);
      const [via1, via2] = await Promise.all([
        clientsReach(ctx, 'ext', n1, np, 40),
        clientsReach(ctx, 'ext', n2, np, 40),
      ]);
      expect(podsSeen(via1), `via node1: ${summarize(via1)}`).toContain('web-2');
      expect(podsSeen(via2), `via node2: ${summarize(via2)}`).toContain('web-1');
      for (const r of [...via1, ...via2]) expect(r.peer, 'the pod must not see the external client IP').not.toBe(ctx.externalIp);
    },
  },
  {
    name: 'hairpin: a pod reaches itself through its own service',
    async run(ctx) {
      const svc = await createService(ctx.cluster, { name: 'hairpin', selector: { hairpin: 'yes' } });
      await waitReachable(ctx.cluster, 'client-1', svc.spec.clusterIP, SERVICE_PORT);
      const replies = await clientsReach(ctx, 'web-1', svc.spec.clusterIP, SERVICE_PORT, 20);
      expect(podsSeen(replies)).toEqual(['web-1']);
      // Hairpin traffic is masqueraded, or the pod's reply would bypass un-DNAT.
      for (const r of replies) expect(r.peer).not.toBe(ctx.podIp('web-1'));
    },
  },
  ...policyCases,
  ...terminatingCases,
  ...serviceIpCases,
  ...localhostCases,
  ...loadBalancerCases,
  {
    name: 'ClientIP session affinity pins a client to one endpoint',
    async run(ctx) {
      const svc = await createService(ctx.cluster, { name: 'web-aff', selector: { app: 'web' }, affinity: 'ClientIP' });
      await waitReachable(ctx.cluster, 'client-1', svc.spec.clusterIP, SERVICE_PORT);
      await waitReachable(ctx.cluster, 'client-2', svc.spec.clusterIP, SERVICE_PORT);
      const [a, b] = await Promise.all([
        clientsReach(ctx, 'client-1', svc.spec.clusterIP, SERVICE_PORT, 30),
        clientsReach(ctx, 'client-2', svc.spec.clusterIP, SERVICE_PORT, 30),
      ]);
      expect(podsSeen(a), summarize(a)).toHaveLength(1);
      expect(podsSeen(b), summarize(b)).toHaveLength(1);
    },
  },
  ...dnsCases,
  {
    name: 'removing an endpoint stops traffic to it within 1 s',
    async run(ctx) {
      const svc = await createService(ctx.cluster, { name: 'rm', selector: { app: 'rm' } });
      const ip = svc.spec.clusterIP;
      await waitReachable(ctx.cluster, 'client-1', ip, SERVICE_PORT);
      const before = await clientsReach(ctx, 'client-1', ip, SERVICE_PORT, 30);
      expect(podsSeen(before), summarize(before)).toEqual(['rm-1', 'rm-2']);
      // Traffic keeps flowing while the endpoint goes away; rm-2 keeps serving, so only the rules can stop it.
      const files = { ready: join(ctx.cluster.state.stateDir, 'rm-flow.ready'), stop: join(ctx.cluster.state.stateDir, 'rm-flow.stop') };
      for (const f of Object.values(files)) rmSync(f, { force: true });
      const flowing = requests(ctx.cluster, 'client-1', ip, SERVICE_PORT, 100_000, 1, Date.now() + 40_000, files);
      await waitForFile(files.ready, 20_000);
      await sleep(700);
      await ctx.cluster.setPodReady('rm-2', false);
      const removedAt = Date.now();
      await sleep(3000);
      writeFileSync(files.stop, '');
      const replies = await flowing;
      const earlier = replies.filter((r) => r.ok && r.pod === 'rm-2' && r.at < removedAt);
      expect(earlier.length, `rm-2 must get traffic before its removal: ${summarize(replies)}`).toBeGreaterThan(0);
      const late = replies.filter((r) => r.ok && r.pod === 'rm-2' && r.at > removedAt + 1000);
      const after = replies.filter((r) => r.at > removedAt + 1000);
      const lastToRemoved = Math.max(...replies.filter((r) => r.ok && r.pod === 'rm-2').map((r) => r.at)) - removedAt;
      expect(after.length, 'requests sent more than 1 s after the removal (the proof needs some)').toBeGreaterThan(5);
      expect(late, `rm-2 still reached ${lastToRemoved} ms after removal: ${summarize(replies)}`).toEqual([]);
      expect(after.filter((r) => !r.ok), summarize(after)).toEqual([]);
      console.info(`[${ctx.cluster.name}] last request to the removed endpoint: ${lastToRemoved} ms after removal`);
    },
  },
  {
    name: 'UDP: a flow pinned to a removed endpoint moves to the other one within 1 s (stale conntrack entries deleted)',
    timeoutMs: 90_000,
    async run(ctx) {
      const svc = await createService(ctx.cluster, {
        name: 'udp',
        selector: { app: 'udp' },
        protocol: 'UDP',
        port: UDP_SERVICE_PORT,
        targetPort: UDP_TARGET_PORT,
      });
      const ip = svc.spec.clusterIP;
      await eventually(`client-1 → ${ip}:${UDP_SERVICE_PORT}/UDP answers`, 15_000, async () =>
        (await udpFlow(ctx.cluster, 'client-1', ip, UDP_SERVICE_PORT, Date.now() + 300)).length > 0 ? true : undefined,
      );
      // One socket, one 5-tuple: the first datagram's conntrack entry pins the whole flow to one pod.
      // That pod then leaves the endpoints but keeps running and answering, so only deleting the
      // entry (conntrack -D, as kube-proxy does for UDP) can move the flow.
      const files = { ready: join(ctx.cluster.state.stateDir, 'udp-flow.ready'), stop: join(ctx.cluster.state.stateDir, 'udp-flow.stop') };
      for (const f of Object.values(files)) rmSync(f, { force: true });
      const flowing = udpFlow(ctx.cluster, 'client-1', ip, UDP_SERVICE_PORT, Date.now() + 40_000, files);
      await waitForFile(files.ready, 20_000);
      const pinned = readFileSync(files.ready, 'utf8').trim();
      const other = pinned === 'udp-1' ? 'udp-2' : 'udp-1';
      expect(['udp-1', 'udp-2']).toContain(pinned);
      await sleep(600);
      await ctx.cluster.setPodReady(pinned, false);
      const removedAt = Date.now();
      try {
        await sleep(3000);
        writeFileSync(files.stop, '');
        const replies = await flowing;
        const before = replies.filter((r) => r.at < removedAt);
        const after = replies.filter((r) => r.at > removedAt + 1000);
        expect(podsSeen(before), `one flow, one endpoint before the removal: ${summarize(before)}`).toEqual([pinned]);
        expect(after.length, `answers more than 1 s after the removal: ${summarize(replies)}`).toBeGreaterThan(20);
        expect(podsSeen(after), `the flow must have moved to ${other}: ${summarize(after)}`).toEqual([other]);
        const lastToRemoved = Math.max(...replies.filter((r) => r.pod === pinned).map((r) => r.at)) - removedAt;
        console.info(`[${ctx.cluster.name}] last UDP answer from the removed endpoint: ${lastToRemoved} ms after removal`);
      } finally {
        await ctx.cluster.setPodReady(pinned, true);
      }
    },
  },
  {
    name: 'a service without endpoints refuses connections at once',
    async run(ctx) {
      const svc = await createService(ctx.cluster, { name: 'empty', selector: { app: 'nothing' } });
      const ip = svc.spec.clusterIP;
      let last = '';
      await eventually('connection refused from the empty service', 15_000, async () => {
        const { reply } = await probeOnce(ctx.cluster, 'client-1', ip, SERVICE_PORT, 1);
        last = reply.ok ? `answered by ${reply.pod}` : reply.error;
        return /refused/i.test(reply.error) ? true : undefined;
      }).catch((err: unknown) => {
        throw new Error(`${String(err)}; last outcome: ${last}`);
      });
      for (const from of ['client-1', 'client-2']) {
        const { ms, reply } = await probeOnce(ctx.cluster, from, ip, SERVICE_PORT, 5);
        expect(reply.ok).toBe(false);
        expect(reply.error, from).toMatch(/refused/i);
        expect(ms, `${from}: refusal took ${Math.round(ms)} ms`).toBeLessThan(1000);
      }
    },
  },
  {
    name: 'deleting a service removes every rule',
    async run(ctx) {
      const svc = await createService(ctx.cluster, { name: 'gone', type: 'NodePort', selector: { app: 'web' } });
      await waitReachable(ctx.cluster, 'client-1', svc.spec.clusterIP, SERVICE_PORT);
      await waitReachable(ctx.cluster, 'client-2', svc.spec.clusterIP, SERVICE_PORT);
      for (const node of ['node1', 'node2']) {
        expect((await ctx.inspector.serviceRules(ctx.cluster, node, svc)).length, `${node} has rules for gone`).toBeGreaterThan(0);
      }
      await deleteService(ctx.cluster, 'default', 'gone');
      for (const node of ['node1', 'node2']) {
        await eventually(`${node}: no rule of default/gone left`, 10_000, async () =>
          (await ctx.inspector.serviceRules(ctx.cluster, node, svc)).length === 0 ? true : undefined,
        );
      }
      const { reply } = await probeOnce(ctx.cluster, 'client-1', svc.spec.clusterIP, SERVICE_PORT, 1);
      expect(reply.ok).toBe(false);
    },
  },
  {
    name: 'under churn (services created and deleted, pods added, deleted and flipping ready) every service ends up answering from exactly its ready pods',
    timeoutMs: 240_000,
    async run(ctx) {
      const seed = Number(process.env.SVCNET_CHURN_SEED ?? 20261127);
      const random = seededRandom(seed);
      const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
      const pods = new Map<string, { group: string; ready: boolean }>();
      const services = new Map<string, { group: string | undefined; ip: string }>();
      const log: string[] = [];
      let serial = 0;
      const addPod = async () => {
        const name = `ch-${++serial}`;
        const group = pick(['a', 'b']);
        await ctx.cluster.addPod({ name, node: pick(['node1', 'node2']), labels: { churn: 'yes', group }, ports: PORTS, command: WHO });
        pods.set(name, { group, ready: true });
        log.push(`+pod ${name}/${group}`);
      };
      const addService = async () => {
        const name = `churn-${++serial}`;
        const group = random() < 0.7 ? pick(['a', 'b']) : undefined;
        const svc = await createService(ctx.cluster, { name, selector: group ? { churn: 'yes', group } : { churn: 'yes' } });
        services.set(name, { group, ip: svc.spec.clusterIP });
        log.push(`+svc ${name}/${group ?? '*'}`);
      };
      for (let i = 0; i < 4; i++) await addPod();
      for (let i = 0; i < 2; i++) await addService();
      for (let step = 0; step < 16; step++) {
        const roll = random();
        if (roll < 0.2 && services.size < 5) await addService();
        else if (roll < 0.3 && services.size > 1) {
          const name = pick([...services.keys()]);
          await deleteService(ctx.cluster, 'default', name);
          services.delete(name);
          log.push(`-svc ${name}`);
        } else if (roll < 0.45 && pods.size < 8) await addPod();
        else if (roll < 0.55 && pods.size > 2) {
          const name = pick([...pods.keys()]);
          await ctx.cluster.deletePod(name);
          pods.delete(name);
          log.push(`-pod ${name}`);
        } else {
          const name = pick([...pods.keys()]);
          const pod = pods.get(name)!;
          pod.ready = !pod.ready;
          await ctx.cluster.setPodReady(name, pod.ready);
          log.push(`${pod.ready ? 'ready' : 'unready'} ${name}`);
        }
        // Changes land while the agents are still programming the last ones.
        await sleep(Math.floor(random() * 300));
      }
      console.info(`[${ctx.cluster.name}] churn (seed ${seed}): ${log.join(', ')}`);
      for (const [name, svc] of services) {
        const want = [...pods].filter(([, p]) => p.ready && (!svc.group || p.group === svc.group)).map(([n]) => n).sort();
        for (const client of ['client-1', 'client-2']) {
          let last: Reply[] = [];
          const what = `seed ${seed}: ${client} → ${name} (${svc.ip}) answers from exactly [${want.join(' ')}] after ${log.join(', ')}`;
          await eventually(what, 20_000, async () => {
            last = await requests(ctx.cluster, client, svc.ip, SERVICE_PORT, want.length > 0 ? 8 * want.length : 2, 1);
            if (want.length === 0) return last.every((r) => !r.ok) ? true : undefined;
            return last.every((r) => r.ok) && podsSeen(last).join(' ') === want.join(' ') ? true : undefined;
          }).catch((err: unknown) => {
            throw new Error(`${String(err)}; last replies: ${summarize(last)}`);
          });
        }
      }
      for (const name of services.keys()) await deleteService(ctx.cluster, 'default', name);
      for (const name of pods.keys()) await ctx.cluster.deletePod(name);
    },
  },
  {
    name: 'restarting the agent leaves no stale rule',
    timeoutMs: 90_000,
    async run(ctx) {
      const svc = await createService(ctx.cluster, { name: 'stale', selector: { app: 'web' } });
      await waitReachable(ctx.cluster, 'client-1', svc.spec.clusterIP, SERVICE_PORT);
      await waitReachable(ctx.cluster, 'client-2', svc.spec.clusterIP, SERVICE_PORT);
      const pid = agentPid(ctx.cluster, 'node1');
      process.kill(pid, 'SIGTERM');
      await eventually('agent on node1 stopped', 10_000, async () =>
        ctx.cluster.status().find((p) => p.component === 'agent-node1')?.running ? undefined : true,
      );
      // While node1's agent is down the service goes away; node2 follows at once, node1 keeps the old rules.
      await deleteService(ctx.cluster, 'default', 'stale');
      await eventually('node2 dropped default/stale', 10_000, async () =>
        (await ctx.inspector.serviceRules(ctx.cluster, 'node2', svc)).length === 0 ? true : undefined,
      );
      expect((await ctx.inspector.serviceRules(ctx.cluster, 'node1', svc)).length, 'node1 still holds the old rules').toBeGreaterThan(0);
      await ctx.cluster.restartAgent('node1');
      await eventually('node1 dropped default/stale after the restart', 15_000, async () =>
        (await ctx.inspector.serviceRules(ctx.cluster, 'node1', svc)).length === 0 ? true : undefined,
      );
      // Nothing else stale either: node1 owns exactly what node2 (never restarted) owns.
      // The last difference is the error `eventually` reports.
      await eventually('node1 and node2 own the same objects', 10_000, async () => {
        const [a, b] = await Promise.all([ctx.inspector.ownedObjects(ctx.cluster, 'node1'), ctx.inspector.ownedObjects(ctx.cluster, 'node2')]);
        if (JSON.stringify(a) === JSON.stringify(b)) return true;
        throw new Error(`node1 only: ${a.filter((x) => !b.includes(x)).join(' ')}; node2 only: ${b.filter((x) => !a.includes(x)).join(' ')}`);
      });
      await clientsReach(ctx, 'client-1', ctx.web.spec.clusterIP, SERVICE_PORT, 10);
    },
  },
  {
    name: 'rules deleted by hand are restored within 2× sync period',
    async run(ctx) {
      const ip = ctx.web.spec.clusterIP;
      await clientsReach(ctx, 'client-1', ip, SERVICE_PORT, 5);
      const owned = await ctx.inspector.ownedObjects(ctx.cluster, 'node1');
      await ctx.inspector.sabotage(ctx.cluster, 'node1');
      const sabotagedAt = Date.now();
      // The client stamps each request when it starts; the first one that gets an answer was
      // routed by restored rules, so its start time bounds the repair time (a busy machine's
      // slow exec of the probe itself does not count).
      const firstOk = await eventually('traffic through node1 restored', 4 * ctx.syncPeriodMs + 10_000, async () => {
        const replies = await requests(ctx.cluster, 'client-1', ip, SERVICE_PORT, 20, 0.5);
        return replies.find((r) => r.ok);
      }, 10);
      const restoredMs = firstOk.at - sabotagedAt;
      console.info(`[${ctx.cluster.name}] traffic restored ${restoredMs} ms after the rules were deleted (sync period ${ctx.syncPeriodMs} ms)`);
      expect(restoredMs).toBeLessThanOrEqual(2 * ctx.syncPeriodMs);
      expect(await ctx.inspector.ownedObjects(ctx.cluster, 'node1')).toEqual(owned);
      await clientsReach(ctx, 'client-1', ip, SERVICE_PORT, 20);
    },
  },
  {
    name: 'garbage on the feed does not crash the agent',
    async run(ctx) {
      const undecodable = Uint8Array.from({ length: 64 }, (_, i) => (i % 2 ? 0xff : 0x0a));
      const nonsense = serviceCodec.encode({
        ...ctx.web,
        metadata: { ...ctx.web.metadata, name: 'someone-else' },
        spec: { ...ctx.web.spec, clusterIP: 'not-an-ip', clusterIPs: ['not-an-ip'] },
      });
      const junk: [string, Uint8Array][] = [
        ['services.default.junk', undecodable],
        ['services.default.junk2', nonsense],
        ['endpoints.default.junk', undecodable],
        ['services.default.junk3', new Uint8Array()],
        // Oversize (900 KB of garbage) and a key no object can have.
        ['services.default.junk4', Uint8Array.from({ length: 900_000 }, (_, i) => (i * 7) & 0xff)],
        ['services.default.Not_A_Name', nonsense],
      ];
      try {
        await rawKvPut(ctx.cluster, junk);
        // svcnetctl and the state service keep answering, naming what is broken.
        const get = await ctx.cluster.ctl(['get', 'services'], { allowFailure: true });
        expect(get.exitCode, get.stderr).toBe(0);
        expect(get.stdout).toMatch(/^web\s/m);
        expect(get.stderr).toMatch(/Warning: services "junk" in namespace "default" is broken/);
        // The feed still flows and syncs still succeed: a new service gets programmed.
        const fresh = await createService(ctx.cluster, { name: 'after-junk', selector: { app: 'web' } });
        await waitReachable(ctx.cluster, 'client-1', fresh.spec.clusterIP, SERVICE_PORT);
        await waitReachable(ctx.cluster, 'client-2', fresh.spec.clusterIP, SERVICE_PORT);
        await clientsReach(ctx, 'client-2', ctx.web.spec.clusterIP, SERVICE_PORT, 10);
        for (const node of ['node1', 'node2']) {
          agentPid(ctx.cluster, node);
          const h = await agentHttp(ctx.cluster, node, '/healthz');
          expect(h.status, `${node} /healthz: ${h.body}`).toBe(200);
        }
      } finally {
        await rawKvPut(ctx.cluster, junk.map(([key]) => [key, undefined] as const));
      }
    },
  },
];

/** Registers the table as a vitest suite for one proxy mode. */
export function runDataplaneSuite(options: DataplaneSuiteOptions): void {
  const syncPeriodMs = options.syncPeriodMs ?? 2000;
  const title = `data plane, ${options.mode}${options.iptables ? ` (${options.iptables})` : ''}, 2 nodes`;
  describe.skipIf(options.skipAll !== undefined)(`${title}${options.skipAll ? ` — skipped: ${options.skipAll}` : ''}`, () => {
    let cluster: Cluster | undefined;
    let ctx: CaseContext | undefined;

    beforeAll(async () => {
      // Each node namespace has its own tables, so one xtables lock per cluster is enough; it keeps
      // other users of the machine-wide /run/xtables.lock (benchmarks in their own namespaces)
      // from stalling this cluster's agents for seconds. Agents and inspectors inherit it.
      process.env.XTABLES_LOCKFILE = join(tmpdir(), `svcnet-${options.clusterName}.xtables.lock`);
      cluster = await Cluster.up({
        name: options.clusterName,
        nodes: 2,
        proxyMode: options.mode,
        ...(options.iptables ? { iptables: options.iptables } : {}),
        extraArgs: {
          agent: ['--sync-period', `${syncPeriodMs}ms`, '--min-sync-period', '50ms', ...(options.agentArgs ?? [])],
          dns: ['--ttl', `${DNS_TTL_SECONDS}s`],
          state: ['--service-external-ip-cidrs', EXTERNAL_IP_CIDR],
          allocator: ['--load-balancer-ip-range', LOAD_BALANCER_POOL],
        },
      });
      if (cluster.skipped.length > 0) throw new Error(`cluster incomplete: ${cluster.skipped.join('; ')}`);
      const c = cluster;
      // Real nodes have a default route; without one a packet to a ClusterIP that no rule DNATs
      // dies in routing (ENETUNREACH) before the filter-table REJECT of an empty service is reached.
      for (const node of c.state.plan.nodes) {
        await c.exec(node.name, ['ip', 'route', 'replace', 'default', 'via', c.state.plan.external.ip]);
      }
      // The external client reaches the service CIDR and the external IPs through node1, as a router would.
      for (const cidr of [SERVICE_CIDR, EXTERNAL_IP_CIDR]) await c.exec('ext', ['ip', 'route', 'replace', cidr, 'via', c.nodeIp('node1')]);
      const who = (name: string, node: string, labels: Record<string, string>) =>
        c.addPod({ name, node, labels, ports: PORTS, command: WHO });
      await Promise.all([
        who('web-1', 'node1', { app: 'web', hairpin: 'yes' }),
        who('web-2', 'node2', { app: 'web', only: 'two' }),
      ]);
      await who('rm-1', 'node1', { app: 'rm' });
      await who('rm-2', 'node2', { app: 'rm' });
      const udpPorts = [{ port: UDP_TARGET_PORT, protocol: 'UDP' as const }];
      await c.addPod({ name: 'udp-1', node: 'node1', labels: { app: 'udp' }, ports: udpPorts, command: udpWhoServer(UDP_TARGET_PORT) });
      await c.addPod({ name: 'udp-2', node: 'node2', labels: { app: 'udp' }, ports: udpPorts, command: udpWhoServer(UDP_TARGET_PORT) });
      await c.addPod({ name: 'client-1', node: 'node1', command: [] });
      await c.addPod({ name: 'client-2', node: 'node2', command: [] });
      const web = await createService(c, { name: 'web', selector: { app: 'web' } });
      await waitReachable(c, 'client-1', web.spec.clusterIP, SERVICE_PORT, 30_000);
      await waitReachable(c, 'client-2', web.spec.clusterIP, SERVICE_PORT, 30_000);
      ctx = {
        cluster: c,
        mode: options.mode,
        inspector: options.inspector,
        syncPeriodMs,
        web,
        externalIp: c.state.plan.external.ip,
        podIp: (name) => c.pod(name).ip,
        preservesSource: options.preservesSource ?? true,
      };
    });

    afterAll(async () => {
      if (cluster) await cluster.down();
      else await Cluster.down({ name: options.clusterName });
      delete process.env.XTABLES_LOCKFILE;
    });

    for (const c of dataplaneCases) {
      const reason = options.skip?.[c.name];
      if (reason) {
        it.skip(`${c.name} — skipped in ${options.mode} mode: ${reason}`, () => undefined);
        continue;
      }
      it(c.name, async () => {
        if (!ctx) throw new Error('cluster setup failed (see beforeAll)');
        await c.run(ctx);
      }, c.timeoutMs ?? 60_000);
    }
  });
}
