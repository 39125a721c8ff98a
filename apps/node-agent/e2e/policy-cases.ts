/**
 * The data-plane table's traffic-policy and masquerade rows, as kube-proxy
 * applies them: internalTrafficPolicy only for ClusterIP traffic (dropped,
 * not refused, without a local endpoint), externalTrafficPolicy Local only for
 * clients outside the cluster (pods and the node itself reach every
 * endpoint), and which sources are masqueraded. Modes that cannot keep a
 * client's address (userspace) still run every row; only the source-address
 * checks are left out (CaseContext.preservesSource).
 */
import { expect } from 'vitest';
import type { CaseContext, DataplaneCase } from './case-types.js';
import { createService, deleteService, eventually, nodePortOf, probeOnce, requests, podsSeen, summarize, SERVICE_PORT, waitReachable, type Reply } from './harness.js';

/** External IPs the state service accepts in the data-plane suites (--service-external-ip-cidrs); the external client routes them via node1. */
export const EXTERNAL_IP_CIDR = '203.0.113.0/24';
/** The service CIDR of the namespace cluster (the external client routes it via node1). */
export const SERVICE_CIDR = '10.96.0.0/16';

export async function reach(ctx: CaseContext, from: string, ip: string, port: number, count: number): Promise<Reply[]> {
  const replies = await requests(ctx.cluster, from, ip, port, count);
  expect(replies.filter((r) => !r.ok), `${from} → ${ip}:${port}: ${summarize(replies)}`).toEqual([]);
  expect(replies).toHaveLength(count);
  return replies;
}

/** Waits until `from` reaches exactly `pods` at ip:port (rules programmed), then returns a batch of replies. */
export async function reachExactly(ctx: CaseContext, from: string, ip: string, port: number, pods: string[], count = 16): Promise<Reply[]> {
  let last: Reply[] = [];
  await eventually(`${from} → ${ip}:${port} answers from exactly [${pods.join(' ')}]`, 15_000, async () => {
    last = await requests(ctx.cluster, from, ip, port, count, 1);
    return last.every((r) => r.ok) && podsSeen(last).join(' ') === [...pods].sort().join(' ') ? true : undefined;
  }).catch((err: unknown) => {
    throw new Error(`${String(err)}; last replies: ${summarize(last)}`);
  });
  return last;
}

/**
 * A connection that is dropped (no answer within the timeout), as opposed to
 * refused: waits for the rules, then checks once more.
 */
export async function expectDropped(ctx: CaseContext, from: string, ip: string, port: number): Promise<void> {
  let last = '';
  await eventually(`${from} → ${ip}:${port} is dropped`, 15_000, async () => {
    const { reply } = await probeOnce(ctx.cluster, from, ip, port, 1);
    last = reply.ok ? `answered by ${reply.pod}` : reply.error;
    return /ETIMEDOUT/.test(reply.error) ? true : undefined;
  }).catch((err: unknown) => {
    throw new Error(`${String(err)}; last outcome: ${last}`);
  });
  const { reply } = await probeOnce(ctx.cluster, from, ip, port, 1);
  expect(reply.error, `${from} → ${ip}:${port} must be dropped, not answered or refused`).toMatch(/ETIMEDOUT/);
}

/** A connection refused at once (REJECT / reset). */
export async function expectRefused(ctx: CaseContext, from: string, ip: string, port: number): Promise<void> {
  let last = '';
  await eventually(`${from} → ${ip}:${port} is refused`, 15_000, async () => {
    const { reply } = await probeOnce(ctx.cluster, from, ip, port, 1);
    last = reply.ok ? `answered by ${reply.pod}` : reply.error;
    return /refused|ECONNRESET/i.test(reply.error) ? true : undefined;
  }).catch((err: unknown) => {
    throw new Error(`${String(err)}; last outcome: ${last}`);
  });
  const { ms, reply } = await probeOnce(ctx.cluster, from, ip, port, 3);
  expect(reply.error).toMatch(/refused|ECONNRESET/i);
  expect(ms, `refusal took ${Math.round(ms)} ms`).toBeLessThan(1000);
}

/** Restarts node `node`'s agent with its command line changed by `edit`; returns a function that restores the original. */
export async function restartAgentWith(ctx: CaseContext, node: string, edit: (argv: string[]) => string[]): Promise<() => Promise<void>> {
  const component = `agent-${node}`;
  const rec = ctx.cluster.state.processes.find((p) => p.component === component);
  if (!rec) throw new Error(`no ${component}`);
  const original = { argv: [...rec.argv], env: rec.env };
  const start = async (argv: string[]) => {
    await ctx.cluster.killComponent(component, 'SIGTERM');
    const fresh = ctx.cluster.startProcess(component, rec.ns, argv, original.env);
    await ctx.cluster.waitListening(fresh, 10256);
  };
  await start(edit([...original.argv]));
  return () => start(original.argv);
}

/** argv without `--flag value`. */
export function withoutFlag(argv: string[], flag: string): string[] {
  const i = argv.indexOf(flag);
  return i < 0 ? argv : [...argv.slice(0, i), ...argv.slice(i + 2)];
}

export const policyCases: readonly DataplaneCase[] = [
  {
    name: 'masquerade: a pod keeps its address to a ClusterIP; a client outside the cluster CIDR and the node itself are masqueraded',
    async run(ctx) {
      const ip = ctx.web.spec.clusterIP;
      const fromPod = await reach(ctx, 'client-1', ip, SERVICE_PORT, 10);
      if (ctx.preservesSource) for (const r of fromPod) expect(r.peer, 'pod → ClusterIP is not masqueraded').toBe(ctx.podIp('client-1'));
      // The external client routes the service CIDR through node1 (a static route, as kube-proxy's comment has it).
      const fromOutside = await reachExactly(ctx, 'ext', ip, SERVICE_PORT, ['web-1', 'web-2'], 30);
      for (const r of fromOutside) expect(r.peer, `outside → ClusterIP must be masqueraded: ${summarize(fromOutside)}`).not.toBe(ctx.externalIp);
      const fromNode = await reach(ctx, 'node1', ip, SERVICE_PORT, 10);
      expect(podsSeen(fromNode).length).toBeGreaterThan(0);
    },
  },
  {
    name: 'internalTrafficPolicy Local: ClusterIP traffic stays on the client\'s node (dropped, not refused, without a local endpoint); NodePort and external IP traffic ignore it',
    timeoutMs: 90_000,
    async run(ctx) {
      const externalIP = '203.0.113.21';
      const svc = await createService(ctx.cluster, {
        name: 'itp',
        type: 'NodePort',
        selector: { app: 'web' },
        internalTrafficPolicy: 'Local',
        externalIPs: [externalIP],
      });
      const ip = svc.spec.clusterIP;
      await reachExactly(ctx, 'client-1', ip, SERVICE_PORT, ['web-1']);
      await reachExactly(ctx, 'client-2', ip, SERVICE_PORT, ['web-2']);
      await reachExactly(ctx, 'node1', ip, SERVICE_PORT, ['web-1']);
      await reachExactly(ctx, 'ext', ctx.cluster.nodeIp('node1'), nodePortOf(svc), ['web-1', 'web-2']);
      await reachExactly(ctx, 'ext', externalIP, SERVICE_PORT, ['web-1', 'web-2']);
      const remote = await createService(ctx.cluster, { name: 'itp-remote', selector: { only: 'two' }, internalTrafficPolicy: 'Local' });
      await reachExactly(ctx, 'client-2', remote.spec.clusterIP, SERVICE_PORT, ['web-2']);
      await expectDropped(ctx, 'client-1', remote.spec.clusterIP, SERVICE_PORT);
      // Gone after the row: a Local policy's chains exist only where its endpoints are, and later rows compare the nodes.
      for (const name of ['itp', 'itp-remote']) await deleteService(ctx.cluster, 'default', name);
    },
  },
  {
    name: 'externalTrafficPolicy Local: outside clients reach only local endpoints with their address kept (dropped without one); pods and the node itself reach every endpoint',
    timeoutMs: 120_000,
    async run(ctx) {
      const externalIP = '203.0.113.22';
      const svc = await createService(ctx.cluster, {
        name: 'web-local',
        type: 'NodePort',
        selector: { app: 'web' },
        externalTrafficPolicy: 'Local',
        externalIPs: [externalIP],
      });
      const np = nodePortOf(svc);
      const [n1, n2] = [ctx.cluster.nodeIp('node1'), ctx.cluster.nodeIp('node2')];
      for (const [node, local] of [['node1', 'web-1'], ['node2', 'web-2']] as const) {
        const replies = await reachExactly(ctx, 'ext', ctx.cluster.nodeIp(node), np, [local]);
        if (ctx.preservesSource) for (const r of replies) expect(r.peer, `via ${node}: the pod sees the client`).toBe(ctx.externalIp);
      }
      await reachExactly(ctx, 'ext', externalIP, SERVICE_PORT, ['web-1']);
      // Not subject to the external policy: pods and the node itself, through the node port and the external IP.
      await reachExactly(ctx, 'client-1', n1, np, ['web-1', 'web-2']);
      await reachExactly(ctx, 'client-2', n2, np, ['web-1', 'web-2']);
      await reachExactly(ctx, 'client-1', externalIP, SERVICE_PORT, ['web-1', 'web-2']);
      await reachExactly(ctx, 'node1', n1, np, ['web-1', 'web-2']);
      await reachExactly(ctx, 'node1', externalIP, SERVICE_PORT, ['web-1', 'web-2']);

      // Endpoints on node2 only: outside clients through node1 are dropped, pods and node1 still served.
      const remoteIP = '203.0.113.23';
      const remote = await createService(ctx.cluster, {
        name: 'local-remote',
        type: 'NodePort',
        selector: { only: 'two' },
        externalTrafficPolicy: 'Local',
        externalIPs: [remoteIP],
      });
      const rnp = nodePortOf(remote);
      await reachExactly(ctx, 'ext', n2, rnp, ['web-2']);
      await reachExactly(ctx, 'client-1', n1, rnp, ['web-2']);
      await reachExactly(ctx, 'node1', remoteIP, SERVICE_PORT, ['web-2']);
      await expectDropped(ctx, 'ext', n1, rnp);
      await expectDropped(ctx, 'ext', remoteIP, SERVICE_PORT);
      for (const name of ['web-local', 'local-remote']) await deleteService(ctx.cluster, 'default', name);
    },
  },
  {
    name: 'masquerade: --masquerade-all masquerades pods too; without --cluster-cidr (no local traffic detector) nothing is masqueraded by source and pods count as outside clients',
    timeoutMs: 150_000,
    async run(ctx) {
      const ip = ctx.web.spec.clusterIP;
      const remote = await createService(ctx.cluster, { name: 'detector', type: 'NodePort', selector: { only: 'two' }, externalTrafficPolicy: 'Local' });
      const np = nodePortOf(remote);
      const n1 = ctx.cluster.nodeIp('node1');
      await reachExactly(ctx, 'client-1', n1, np, ['web-2']);
      const restore = await restartAgentWith(ctx, 'node1', (argv) => [...argv, '--masquerade-all']);
      try {
        let last: Reply[] = [];
        await eventually('client-1 → ClusterIP masqueraded on node1', 20_000, async () => {
          last = await requests(ctx.cluster, 'client-1', ip, SERVICE_PORT, 10, 1);
          return last.every((r) => r.ok && r.peer !== ctx.podIp('client-1')) ? true : undefined;
        }).catch((err: unknown) => {
          throw new Error(`${String(err)}; last replies: ${summarize(last)}`);
        });
      } finally {
        await restore();
      }
      const restore2 = await restartAgentWith(ctx, 'node1', (argv) => withoutFlag(argv, '--cluster-cidr'));
      try {
        // Outside traffic to a ClusterIP is no longer masqueraded: the local endpoint sees the client.
        let last: Reply[] = [];
        await eventually('ext → ClusterIP reaches web-1 unmasqueraded', 20_000, async () => {
          last = await requests(ctx.cluster, 'ext', ip, SERVICE_PORT, 10, 1);
          return last.some((r) => r.ok && r.pod === 'web-1' && r.peer === ctx.externalIp) ? true : undefined;
        }).catch((err: unknown) => {
          throw new Error(`${String(err)}; last replies: ${summarize(last)}`);
        });
        // Pods are outside clients for externalTrafficPolicy Local: no local endpoint, dropped.
        await expectDropped(ctx, 'client-1', n1, np);
      } finally {
        await restore2();
      }
      await reachExactly(ctx, 'client-1', n1, np, ['web-2']);
      await waitReachable(ctx.cluster, 'client-1', ip, SERVICE_PORT);
      // Its Local policy chain exists only where its endpoint is: later rows compare the nodes' chains.
      await deleteService(ctx.cluster, 'default', 'detector');
    },
  },
];
