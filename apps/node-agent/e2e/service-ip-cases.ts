/**
 * The data-plane table's rows for service addresses that no rule serves: a
 * cluster IP's port the service does not have, and an address of the service
 * CIDR that no service has. kube-proxy's nftables mode refuses the first and
 * drops the second; its iptables mode (and svcnet's iptables and userspace
 * modes) lets both through un-NATed, to wherever the node routes them. The
 * external namespace answers on both addresses, so "let through" and
 * "stopped" are told apart by real traffic from the node.
 */
import { expect } from 'vitest';
import type { CaseContext, DataplaneCase } from './case-types.js';
import { createService, deleteService, eventually, probeOnce, SERVICE_PORT, whoServer } from './harness.js';
import { expectDropped, expectRefused, reach } from './policy-cases.js';

const UNUSED_PORT = 81;

/** An address of the cluster's service CIDR (10.96.0.0/16) that no service holds. */
async function unusedServiceAddress(ctx: CaseContext): Promise<string> {
  const listed = (await ctx.cluster.ctl(['get', 'services', '-A', '-o', 'json'])).stdout;
  for (let host = 254; host > 0; host--) {
    const ip = `10.96.255.${host}`;
    if (!listed.includes(`"${ip}"`)) return ip;
  }
  throw new Error('no unused address in 10.96.255.0/24');
}

/** Answered by the external namespace's listener: the packet left the node un-NATed. */
async function answeredOutside(ctx: CaseContext, ip: string, port: number): Promise<void> {
  let last = '';
  await eventually(`node1 → ${ip}:${port} leaves the node un-NATed (answered outside)`, 15_000, async () => {
    const { reply } = await probeOnce(ctx.cluster, 'node1', ip, port, 1);
    last = reply.ok ? `answered by ${reply.pod}` : reply.error;
    return reply.ok && reply.pod === 'outside' ? true : undefined;
  }).catch((err: unknown) => {
    throw new Error(`${String(err)}; last outcome: ${last}`);
  });
}

export const serviceIpCases: readonly DataplaneCase[] = [
  {
    name: 'service addresses no rule serves: an unused port of a cluster IP is refused and an unused address of the service CIDR dropped (nftables); iptables and userspace let them through un-NATed (as kube-proxy\'s iptables mode)',
    timeoutMs: 90_000,
    async run(ctx) {
      const svc = await createService(ctx.cluster, { name: 'unserved', selector: { app: 'web' } });
      const ip = svc.spec.clusterIP;
      const unused = await unusedServiceAddress(ctx);
      const ext = ctx.cluster.state.plan.external.ns;
      // The external namespace holds both addresses and answers on both ports: whatever leaves node1 un-NATed is answered.
      const added: string[] = [];
      const listeners: string[] = [];
      try {
        for (const a of [ip, unused]) {
          await ctx.cluster.exec('ext', ['ip', 'addr', 'add', `${a}/32`, 'dev', 'lo']);
          added.push(a);
        }
        for (const port of [SERVICE_PORT, UNUSED_PORT]) {
          const rec = ctx.cluster.startProcess(`ext-who-${port}`, ext, whoServer(port), { HOSTNAME: 'outside' });
          listeners.push(rec.component);
          await ctx.cluster.waitListening(rec, port);
        }
        // The served port is served by the node either way.
        await eventually(`node1 → ${ip}:${SERVICE_PORT} reaches a pod`, 15_000, async () => {
          const { reply } = await probeOnce(ctx.cluster, 'node1', ip, SERVICE_PORT, 1);
          return reply.ok && reply.pod.startsWith('web-') ? true : undefined;
        });
        if (ctx.mode === 'nftables') {
          await expectRefused(ctx, 'node1', ip, UNUSED_PORT);
          await expectDropped(ctx, 'node1', unused, SERVICE_PORT);
          // From a pod too (forward hook).
          await expectRefused(ctx, 'client-1', ip, UNUSED_PORT);
        } else {
          await answeredOutside(ctx, ip, UNUSED_PORT);
          await answeredOutside(ctx, unused, SERVICE_PORT);
        }
        expect((await reach(ctx, 'node1', ip, SERVICE_PORT, 3)).every((r) => r.pod.startsWith('web-'))).toBe(true);
      } finally {
        for (const c of listeners) await ctx.cluster.killComponent(c, 'SIGTERM');
        for (const a of added) await ctx.cluster.exec('ext', ['ip', 'addr', 'del', `${a}/32`, 'dev', 'lo'], { allowFailure: true });
        await deleteService(ctx.cluster, 'default', 'unserved');
      }
    },
  },
];
