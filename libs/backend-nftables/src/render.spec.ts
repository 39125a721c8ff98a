import { describe, expect, it } from 'vitest';
import { buildEndpoint, buildProxyState, buildServicePort } from '@svcnet/proxy-core';
import type { EndpointInfo, NodeConfig, ServicePortInfo } from '@svcnet/proxy-core';
import { renderNftPlan } from './render.js';

const config: NodeConfig = { nodeName: 'node1', nodeIPs: ['192.168.77.11'], clusterCIDR: '10.244.0.0/16', masqueradeAll: false, nodePortAddresses: [] };

function sp(over: Partial<ServicePortInfo> & { id: string }): ServicePortInfo {
  const [namespace, rest] = over.id.split('/');
  const [name, portName] = (rest ?? '').split(':');
  return buildServicePort({ namespace: namespace!, name: name!, portName: portName ?? '', clusterIP: '10.96.0.10', port: 80, ...over });
}
const ep = (ip: string, local = false, port = 8080): EndpointInfo => buildEndpoint(ip, port, { nodeName: local ? 'node1' : 'node2', isLocal: local });
const state = buildProxyState;

describe('renderNftPlan', () => {
  const web = sp({ id: 'default/web:', nodePort: 30080 });
  const dns = sp({ id: 'kube-system/dns:dns', protocol: 'UDP', clusterIP: '10.96.0.53', port: 53 });
  const empty = sp({ id: 'default/empty:', clusterIP: '10.96.0.99', nodePort: 30099 });
  const aff = sp({ id: 'default/aff:', clusterIP: '10.96.0.20', sessionAffinity: { kind: 'ClientIP', timeoutSeconds: 600 } });
  const local = sp({ id: 'default/local:', clusterIP: '10.96.0.30', nodePort: 30030, externalPolicyLocal: true });
  const plan = renderNftPlan(
    state([
      [web, [ep('10.244.1.2', true), ep('10.244.2.2')]],
      [dns, [ep('10.244.2.3', false, 53)]],
      [empty, []],
      [aff, [ep('10.244.1.4', true)]],
      [local, [ep('10.244.1.5', true), ep('10.244.2.5')]],
    ]),
    config,
    true,
  );

  it('dispatches by verdict maps and picks endpoints with numgen', () => {
    expect(plan.table).toMatch(/10\.96\.0\.10 \. tcp \. 80 : goto svc-[0-9A-F]{16}/);
    expect(plan.table).toMatch(/tcp \. 30080 : goto ext-[0-9A-F]{16}/);
    // Two endpoints: the first takes 1/2, the rest goes to the second — no anonymous maps.
    expect(plan.table).toMatch(/numgen random mod 2 == 0 goto sep-[0-9A-F]{16}\n\t\tgoto sep-[0-9A-F]{16}\n/);
    expect(plan.table).not.toContain('vmap {');
    expect(plan.table).toContain('meta l4proto tcp dnat to 10.244.1.2:8080');
    expect(plan.table).toContain('ip saddr != 10.244.0.0/16 jump mark-for-masquerade');
    expect(plan.counts['map service-ips']).toBe(4);
  });

  it('rejects services without endpoints, by cluster IP and node port', () => {
    expect(plan.table).toContain('10.96.0.99 . tcp . 80 : goto reject-service');
    expect(plan.table).toContain('tcp . 30099 : goto reject-service');
    expect(plan.table).not.toMatch(/10\.96\.0\.99 \. tcp \. 80 : goto svc-/);
  });

  it('ClientIP affinity: a dynamic set per endpoint, checked before numgen', () => {
    expect(plan.table).toMatch(/set aff-[0-9A-F]{16} \{\n\t\ttype ipv4_addr\n\t\tflags dynamic,timeout\n\t\ttimeout 600s/);
    expect(plan.table).toMatch(/ip saddr @aff-[0-9A-F]{16} goto sep-/);
    expect(plan.table).toMatch(/update @aff-[0-9A-F]{16} \{ ip saddr \}/);
  });

  it('externalTrafficPolicy Local: node port traffic to local endpoints only, not masqueraded', () => {
    const ext = /chain (ext-[0-9A-F]{16}) \{\n((?:\t\t.*\n)*)\t\}/g;
    const bodies = [...plan.table.matchAll(ext)].map((m) => m[2]!);
    const localBody = bodies.find((b) => !b.includes('mark-for-masquerade'));
    expect(localBody).toBeDefined();
    expect(localBody).toMatch(/^\t\tgoto sep-/);
  });

  it('spreads N endpoints evenly: rule i takes 1/(N-i)', () => {
    const three = renderNftPlan(state([[web, [ep('10.244.1.2'), ep('10.244.1.3'), ep('10.244.1.4')]]]), config, true);
    const picks = three.table.split('\n').filter((l) => /numgen|^\t\tgoto sep-/.test(l)).map((l) => l.trim().replace(/sep-[0-9A-F]+/, 'sep'));
    expect(picks).toEqual(['numgen random mod 3 == 0 goto sep', 'numgen random mod 2 == 0 goto sep', 'goto sep']);
  });

  it('tracks UDP destinations for conntrack cleanup and skips what it cannot program', () => {
    expect(plan.udp).toEqual([{ origDst: '10.96.0.53', endpoints: ['10.244.2.3'] }]);
    const sctp = renderNftPlan(state([[sp({ id: 'default/s:', protocol: 'SCTP' }), []], [sp({ id: 'default/v6:', clusterIP: 'fd00::1' }), []]]), config, true);
    expect(sctp.skipped.map((s) => s.id)).toEqual(['default/s:', 'default/v6:']);
  });

  it('restricts node ports to --nodeport-addresses', () => {
    const p = renderNftPlan(state([[web, [ep('10.244.1.2', true)]]]), { ...config, nodePortAddresses: ['192.168.77.11/32'] }, true);
    expect(p.table).toContain('set nodeport-ips {');
    expect(p.table).toContain('fib daddr type local ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports');
  });

  it('a partial render re-renders only the changed service ports and equals a full render', () => {
    const a = sp({ id: 'default/a:', clusterIP: '10.96.0.1', nodePort: 30001 });
    const b = sp({ id: 'default/b:', clusterIP: '10.96.0.2', sessionAffinity: { kind: 'ClientIP', timeoutSeconds: 60 } });
    const c = sp({ id: 'default/c:', clusterIP: '10.96.0.3', protocol: 'UDP', port: 53 });
    const first = renderNftPlan(state([[a, [ep('10.244.1.2')]], [b, [ep('10.244.1.3')]], [c, []]]), config, true);
    const steps: Array<[Parameters<typeof state>[0], string[]]> = [
      [[[a, [ep('10.244.1.2'), ep('10.244.1.9')]], [b, [ep('10.244.1.3')]], [c, []]], ['default/a:']],
      [[[a, [ep('10.244.1.2'), ep('10.244.1.9')]], [b, []], [c, [ep('10.244.2.3', false, 53)]]], ['default/b:', 'default/c:']],
      [[[a, [ep('10.244.1.9')]], [c, [ep('10.244.2.3', false, 53)]]], ['default/a:', 'default/b:']],
    ];
    let last = first;
    for (const [entries, changed] of steps) {
      const partial = renderNftPlan(state(entries), config, false, last, new Set(changed));
      const full = renderNftPlan(state(entries), config, true);
      expect([...partial.chains].sort()).toEqual([...full.chains].sort());
      expect([...partial.maps].map(([m, els]) => [m, [...els].sort()])).toEqual([...full.maps].map(([m, els]) => [m, [...els].sort()]));
      expect([...partial.sets].sort()).toEqual([...full.sets].sort());
      expect(partial.udp).toEqual(full.udp);
      expect(partial.counts).toEqual(full.counts);
      // Unchanged service ports: the very fragment of the last plan.
      for (const [id, f] of partial.fragments) expect(f === last.fragments.get(id)).toBe(!changed.includes(id) && last.fragments.has(id));
      last = partial;
    }
    // Without the changed set (or on a full sync) everything is rendered again.
    const again = renderNftPlan(state([[a, [ep('10.244.1.9')]]]), config, true, last, new Set());
    expect(again.fragments.get('default/a:')).not.toBe(last.fragments.get('default/a:'));
  });
});
