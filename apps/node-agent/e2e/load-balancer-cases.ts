/**
 * The data-plane table's LoadBalancer rows: ingress IPs from the allocator's
 * pool (or given by the client), programmed by the agents as kube-proxy does
 * — masqueraded with externalTrafficPolicy Cluster; with Local, outside
 * clients keep to nodes with endpoints (which the health check node port
 * tells a load balancer) while pods and nodes are short-circuited;
 * loadBalancerSourceRanges drop other sources.
 */
import { expect } from 'vitest';
import type { CaseContext, DataplaneCase } from './case-types.js';
import { createService, deleteService, eventually, nodePortOf, SERVICE_PORT } from './harness.js';
import { expectDropped, reachExactly } from './policy-cases.js';

/** The allocator's --load-balancer-ip-range in the data-plane suites (the external client routes it via node1). */
export const LOAD_BALANCER_POOL = '203.0.113.224/27';

function ingressOf(svc: { status?: { loadBalancer: { ingress: { ip: string }[] } } }): string {
  const ip = svc.status?.loadBalancer.ingress[0]?.ip;
  if (!ip) throw new Error(`no load-balancer ingress: ${JSON.stringify(svc.status)}`);
  return ip;
}

/** GET on a health check node port from the external namespace: status and JSON body. */
async function healthCheck(ctx: CaseContext, ip: string, port: number): Promise<{ status: number; body: string }> {
  const r = await ctx.cluster.exec('ext', ['curl', '-s', '-m', '2', '-w', '\n%{http_code}', `http://${ip}:${port}/healthz`], { allowFailure: true });
  const lines = r.stdout.trimEnd().split('\n');
  const status = Number(lines.pop() ?? 0);
  return { status, body: lines.join('\n') };
}

/** The iptables binary of the cluster's agents (their variant, or the system's default). */
function iptablesOf(ctx: CaseContext): string {
  return ctx.cluster.state.iptables === 'legacy' ? 'iptables-legacy' : ctx.cluster.state.iptables === 'nft' ? 'iptables-nft' : 'iptables';
}

/** Changes a service through `svcnetctl apply` of its own manifest. */
async function applyEdited(ctx: CaseContext, name: string, edit: (m: { spec: Record<string, unknown> }) => void): Promise<void> {
  const m = JSON.parse((await ctx.cluster.ctl(['get', 'service', name, '-o', 'json'])).stdout) as { spec: Record<string, unknown> };
  edit(m);
  const r = await ctx.cluster.ctl(['apply', '-f', '-'], { input: JSON.stringify(m), allowFailure: true });
  expect(r.exitCode, r.stderr).toBe(0);
}

export const loadBalancerCases: readonly DataplaneCase[] = [
  {
    name: 'LoadBalancer: an ingress IP from the allocator\'s pool, shown by svcnetctl as EXTERNAL-IP with 80:<nodePort>/TCP; outside clients masqueraded, pods and nodes reach it too',
    timeoutMs: 90_000,
    async run(ctx) {
      const svc = await createService(ctx.cluster, { name: 'lb', type: 'LoadBalancer', selector: { app: 'web' } });
      const ip = ingressOf(svc);
      expect(ip).toMatch(/^203\.0\.113\.(22[4-9]|2[3-5]\d)$/);
      const np = nodePortOf(svc);
      const got = await ctx.cluster.ctl(['get', 'svc', 'lb']);
      expect(got.stdout).toMatch(new RegExp(`^lb\\s+LoadBalancer\\s+${svc.spec.clusterIP.replace(/\./g, '\\.')}\\s+${ip.replace(/\./g, '\\.')}\\s+80:${np}/TCP\\s`, 'm'));
      const outside = await reachExactly(ctx, 'ext', ip, SERVICE_PORT, ['web-1', 'web-2']);
      for (const r of outside) expect(r.peer, 'eTP Cluster: masqueraded').not.toBe(ctx.externalIp);
      await reachExactly(ctx, 'client-2', ip, SERVICE_PORT, ['web-1', 'web-2']);
      await reachExactly(ctx, 'node2', ip, SERVICE_PORT, ['web-1', 'web-2']);
      await deleteService(ctx.cluster, 'default', 'lb');
    },
  },
  {
    name: 'LoadBalancer with externalTrafficPolicy Local: the health check node port answers 200 with the local endpoint count where they are, 503 elsewhere, open in the firewall; outside clients reach local endpoints only (their address kept), pods and nodes are short-circuited',
    timeoutMs: 120_000,
    async run(ctx) {
      const svc = await createService(ctx.cluster, { name: 'lb-local', type: 'LoadBalancer', selector: { only: 'two' }, externalTrafficPolicy: 'Local' });
      const ip = ingressOf(svc);
      const hc = svc.spec.healthCheckNodePort ?? 0;
      expect(hc).toBeGreaterThan(0);
      const [n1, n2] = [ctx.cluster.nodeIp('node1'), ctx.cluster.nodeIp('node2')];
      const on2 = await eventually('node2 health check answers 200', 15_000, async () => {
        const r = await healthCheck(ctx, n2, hc);
        return r.status === 200 ? r : undefined;
      });
      expect(JSON.parse(on2.body)).toEqual({ service: { namespace: 'default', name: 'lb-local' }, localEndpoints: 1, serviceProxyHealthy: true });
      const on1 = await healthCheck(ctx, n1, hc);
      expect(on1.status).toBe(503);
      expect(JSON.parse(on1.body)).toMatchObject({ localEndpoints: 0 });
      if (ctx.mode !== 'nftables') {
        // Open in the firewall: a DROP appended to INPUT (after the agent's jumps) does not stop it.
        const iptables = iptablesOf(ctx);
        const rule = ['INPUT', '-p', 'tcp', '--dport', String(hc), '-j', 'DROP'];
        await ctx.cluster.exec('node1', [iptables, '-w', '-A', ...rule]);
        try {
          expect((await healthCheck(ctx, n1, hc)).status, 'the health check must pass a later INPUT DROP').toBe(503);
        } finally {
          await ctx.cluster.exec('node1', [iptables, '-w', '-D', ...rule]);
        }
      }
      // Outside clients: node1 has no endpoint (dropped); through node2 the local one, client address kept.
      await expectDropped(ctx, 'ext', ip, SERVICE_PORT);
      await ctx.cluster.exec('ext', ['ip', 'route', 'replace', `${ip}/32`, 'via', n2]);
      try {
        const replies = await reachExactly(ctx, 'ext', ip, SERVICE_PORT, ['web-2']);
        if (ctx.preservesSource) for (const r of replies) expect(r.peer).toBe(ctx.externalIp);
      } finally {
        await ctx.cluster.exec('ext', ['ip', 'route', 'del', `${ip}/32`, 'via', n2]);
      }
      // Pods and nodes are not subject to the external policy.
      await reachExactly(ctx, 'client-1', ip, SERVICE_PORT, ['web-2']);
      await reachExactly(ctx, 'node1', ip, SERVICE_PORT, ['web-2']);
      await deleteService(ctx.cluster, 'default', 'lb-local');
    },
  },
  {
    name: 'LoadBalancer: loadBalancerSourceRanges drop other sources; allocateLoadBalancerNodePorts false; an ingress IP given by the client',
    timeoutMs: 90_000,
    async run(ctx) {
      const given = '203.0.113.60';
      const svc = await createService(ctx.cluster, {
        name: 'lb-fw',
        type: 'LoadBalancer',
        selector: { app: 'web' },
        allocateLoadBalancerNodePorts: false,
        loadBalancerIngress: [given],
        loadBalancerSourceRanges: ['198.51.100.0/24'],
      });
      expect(ingressOf(svc)).toBe(given);
      expect(svc.spec.ports[0]!.nodePort).toBe(0);
      expect((await ctx.cluster.ctl(['get', 'svc', 'lb-fw'])).stdout).toMatch(/^lb-fw\s+LoadBalancer\s+\S+\s+203\.0\.113\.60\s+80\/TCP\s/m);
      // Reachable from an allowed source first (from node1's point of view the range is the whole wire).
      await applyEdited(ctx, 'lb-fw', (m) => (m.spec.loadBalancerSourceRanges = ['198.51.100.0/24', `${ctx.externalIp}/32`]));
      await reachExactly(ctx, 'ext', given, SERVICE_PORT, ['web-1', 'web-2']);
      await applyEdited(ctx, 'lb-fw', (m) => (m.spec.loadBalancerSourceRanges = ['198.51.100.0/24']));
      await expectDropped(ctx, 'ext', given, SERVICE_PORT);
      await deleteService(ctx.cluster, 'default', 'lb-fw');
    },
  },
];
