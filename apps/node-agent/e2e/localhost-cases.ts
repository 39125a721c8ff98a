/**
 * The data-plane table's localhost NodePort row, as kube-proxy: iptables mode
 * answers on 127.0.0.1:<nodePort> (--iptables-localhost-nodeports, default
 * true), which needs route_localnet in the node's namespace and brings
 * kube-proxy's DROP of martian 127.0.0.0/8 traffic from elsewhere; disabled,
 * or with --nodeport-addresses excluding loopback, localhost gets nothing.
 * nftables mode has no localhost NodePorts (as kube-proxy's nftables mode);
 * userspace mode's node portal answers on every local address, 127.0.0.1
 * included (as kube-proxy's userspace mode did).
 */
import { expect } from 'vitest';
import type { CaseContext, DataplaneCase } from './case-types.js';
import { createService, deleteService, nodePortOf } from './harness.js';
import { expectRefused, reachExactly, restartAgentWith } from './policy-cases.js';

async function sysctl(ctx: CaseContext, where: string, key: string): Promise<string> {
  return (await ctx.cluster.exec(where, ['sysctl', '-n', key])).stdout.trim();
}

/**
 * From a pod, a packet to 127.0.0.5 on the node (the pod routes it to its
 * gateway and accepts the 127/8 answer): the node's agent answers /healthz on
 * every address of the node, so only kube-proxy's martian DROP stops it.
 */
async function martianHealthz(ctx: CaseContext, pod: string): Promise<string> {
  const gw = ctx.cluster.state.plan.nodes.find((n) => n.name === ctx.cluster.pod(pod).node)!.gateway;
  for (const cmd of [
    ['sysctl', '-qw', 'net.ipv4.conf.all.route_localnet=1'],
    ['sysctl', '-qw', 'net.ipv4.conf.eth0.route_localnet=1'],
    ['ip', 'route', 'del', 'local', '127.0.0.0/8', 'dev', 'lo', 'table', 'local'],
    ['ip', 'route', 'replace', '127.0.0.5/32', 'via', gw, 'dev', 'eth0'],
  ]) {
    await ctx.cluster.exec(pod, cmd, { allowFailure: true });
  }
  const r = await ctx.cluster.exec(pod, ['curl', '-s', '-m', '2', '-o', '/dev/null', '-w', '%{http_code}', 'http://127.0.0.5:10256/healthz'], { allowFailure: true });
  return r.stdout.trim();
}

export const localhostCases: readonly DataplaneCase[] = [
  {
    name: 'localhost NodePorts: iptables answers on 127.0.0.1 (route_localnet in the node\'s namespace, martian 127/8 traffic dropped), nothing when disabled or outside --nodeport-addresses; nftables never',
    timeoutMs: 150_000,
    async run(ctx) {
      const svc = await createService(ctx.cluster, { name: 'web-lh', type: 'NodePort', selector: { app: 'web' } });
      const np = nodePortOf(svc);
      try {
        await reachExactly(ctx, 'ext', ctx.cluster.nodeIp('node1'), np, ['web-1', 'web-2']);
        if (ctx.mode === 'nftables') {
          await expectRefused(ctx, 'node1', '127.0.0.1', np);
          return;
        }
        await reachExactly(ctx, 'node1', '127.0.0.1', np, ['web-1', 'web-2']);
        if (ctx.mode !== 'iptables') return;
        expect(await sysctl(ctx, 'node1', 'net.ipv4.conf.all.route_localnet'), 'route_localnet in the node').toBe('1');
        expect(await sysctl(ctx, 'ext', 'net.ipv4.conf.all.route_localnet'), 'route_localnet elsewhere untouched').toBe('0');
        expect(await martianHealthz(ctx, 'client-1'), 'a pod reaching the node\'s 127.0.0.5 must be dropped').toBe('000');
        const restore = await restartAgentWith(ctx, 'node1', (argv) => [...argv, '--iptables-localhost-nodeports', 'false']);
        try {
          await expectRefused(ctx, 'node1', '127.0.0.1', np);
        } finally {
          await restore();
        }
        const restore2 = await restartAgentWith(ctx, 'node1', (argv) => [...argv, '--nodeport-addresses', `${ctx.cluster.nodeIp('node1')}/32`]);
        try {
          await expectRefused(ctx, 'node1', '127.0.0.1', np);
          await reachExactly(ctx, 'ext', ctx.cluster.nodeIp('node1'), np, ['web-1', 'web-2']);
        } finally {
          await restore2();
        }
        await reachExactly(ctx, 'node1', '127.0.0.1', np, ['web-1', 'web-2']);
      } finally {
        await deleteService(ctx.cluster, 'default', 'web-lh');
      }
    },
  },
];
