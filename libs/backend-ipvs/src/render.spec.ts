import { describe, expect, it } from 'vitest';
import { IpvsBackend } from './ipvs-backend.js';
import { FakeNetExec } from '@svcnet/netexec';
import { RenderMemo, renderIpvsPlan } from './render.js';
import { config, ep, stateOf, svc } from './test-fixtures.js';

const sorted = (text: string): string[] => text.split('\n').filter((l) => l && !l.startsWith('#')).sort();

describe('renderIpvsPlan', () => {
  const cases = [
    {
      name: 'ClusterIP with two endpoints: address, virtual service, masquerading reals, cluster-ip set',
      state: stateOf([[svc({ name: 'web', clusterIP: '10.96.0.10', port: 80 }), [ep('10.244.1.2', 8080), ep('10.244.2.2', 8080)]]]),
      expected: [
        'addr add 10.96.0.10/32 dev kube-ipvs0',
        'link add kube-ipvs0 type dummy',
        '-A -t 10.96.0.10:80 -s rr',
        '-a -t 10.96.0.10:80 -r 10.244.1.2:8080 -m -w 1',
        '-a -t 10.96.0.10:80 -r 10.244.2.2:8080 -m -w 1',
        'add KUBE-CLUSTER-IP 10.96.0.10,tcp:80',
      ],
    },
    {
      name: 'NodePort: one virtual service per node IP, node-port set',
      state: stateOf([[svc({ name: 'np', clusterIP: '10.96.0.11', port: 80, nodePort: 30080 }), [ep('10.244.1.2', 8080)]]]),
      expected: [
        'addr add 10.96.0.11/32 dev kube-ipvs0',
        'link add kube-ipvs0 type dummy',
        '-A -t 10.96.0.11:80 -s rr',
        '-a -t 10.96.0.11:80 -r 10.244.1.2:8080 -m -w 1',
        '-A -t 192.168.1.10:30080 -s rr',
        '-a -t 192.168.1.10:30080 -r 10.244.1.2:8080 -m -w 1',
        'add KUBE-CLUSTER-IP 10.96.0.11,tcp:80',
        'add KUBE-NODE-PORT-TCP 30080',
      ],
    },
    {
      name: 'ClientIP affinity → persistence; UDP',
      state: stateOf([[svc({ name: 'dns', clusterIP: '10.96.0.53', port: 53, protocol: 'UDP', sessionAffinity: { kind: 'ClientIP', timeoutSeconds: 10800 } }), [ep('10.244.1.3', 53)]]]),
      expected: [
        'addr add 10.96.0.53/32 dev kube-ipvs0',
        'link add kube-ipvs0 type dummy',
        '-A -u 10.96.0.53:53 -s rr -p 10800',
        '-a -u 10.96.0.53:53 -r 10.244.1.3:53 -m -w 1',
        'add KUBE-CLUSTER-IP 10.96.0.53,udp:53',
      ],
    },
    {
      name: 'no endpoints: virtual service without reals, listed for REJECT',
      state: stateOf([[svc({ name: 'none', clusterIP: '10.96.0.12', port: 80 }), []]]),
      expected: ['addr add 10.96.0.12/32 dev kube-ipvs0', 'link add kube-ipvs0 type dummy', '-A -t 10.96.0.12:80 -s rr', 'add KUBE-CLUSTER-IP 10.96.0.12,tcp:80', 'add KUBE-NO-ENDPOINTS 10.96.0.12,tcp:80'],
    },
    {
      name: 'externalTrafficPolicy Local: NodePort reals are local only, local-port set, loop-back for local pods',
      state: stateOf([
        [
          svc({ name: 'loc', clusterIP: '10.96.0.13', port: 80, nodePort: 30081, externalPolicyLocal: true }),
          [ep('10.244.1.2', 8080, { isLocal: true }), ep('10.244.9.2', 8080), ep('10.244.9.3', 8080, { ready: false })],
        ],
      ]),
      expected: [
        'addr add 10.96.0.13/32 dev kube-ipvs0',
        'link add kube-ipvs0 type dummy',
        '-A -t 10.96.0.13:80 -s rr',
        '-a -t 10.96.0.13:80 -r 10.244.1.2:8080 -m -w 1',
        '-a -t 10.96.0.13:80 -r 10.244.9.2:8080 -m -w 1',
        '-A -t 192.168.1.10:30081 -s rr',
        '-a -t 192.168.1.10:30081 -r 10.244.1.2:8080 -m -w 1',
        'add KUBE-CLUSTER-IP 10.96.0.13,tcp:80',
        'add KUBE-LOOP-BACK 10.244.1.2,tcp:8080,10.244.1.2',
        'add KUBE-NODE-PORT-LOCAL-TCP 30081',
        'add KUBE-NODE-PORT-TCP 30081',
      ],
    },
    {
      name: 'only terminating endpoints: serving ones are used (kube-proxy fallback)',
      state: stateOf([[svc({ name: 't', clusterIP: '10.96.0.14', port: 80 }), [ep('10.244.1.5', 80, { ready: false, serving: true, terminating: true })]]]),
      expected: ['addr add 10.96.0.14/32 dev kube-ipvs0', 'link add kube-ipvs0 type dummy', '-A -t 10.96.0.14:80 -s rr', '-a -t 10.96.0.14:80 -r 10.244.1.5:80 -m -w 1', 'add KUBE-CLUSTER-IP 10.96.0.14,tcp:80'],
    },
    {
      name: 'internalTrafficPolicy Local: the cluster IP gets this node\'s endpoints, the node port and external IPs every endpoint',
      state: stateOf([
        [
          svc({ name: 'itp', clusterIP: '10.96.0.15', port: 80, nodePort: 30082, externalIPs: ['192.168.50.15'], internalPolicyLocal: true }),
          [ep('10.244.1.2', 8080, { isLocal: true }), ep('10.244.9.2', 8080)],
        ],
      ]),
      expected: [
        'addr add 10.96.0.15/32 dev kube-ipvs0',
        'addr add 192.168.50.15/32 dev kube-ipvs0',
        'link add kube-ipvs0 type dummy',
        '-A -t 10.96.0.15:80 -s rr',
        '-a -t 10.96.0.15:80 -r 10.244.1.2:8080 -m -w 1',
        '-A -t 192.168.50.15:80 -s rr',
        '-a -t 192.168.50.15:80 -r 10.244.1.2:8080 -m -w 1',
        '-a -t 192.168.50.15:80 -r 10.244.9.2:8080 -m -w 1',
        '-A -t 192.168.1.10:30082 -s rr',
        '-a -t 192.168.1.10:30082 -r 10.244.1.2:8080 -m -w 1',
        '-a -t 192.168.1.10:30082 -r 10.244.9.2:8080 -m -w 1',
        'add KUBE-CLUSTER-IP 10.96.0.15,tcp:80',
        'add KUBE-EXTERNAL-IP 192.168.50.15,tcp:80',
        'add KUBE-LOOP-BACK 10.244.1.2,tcp:8080,10.244.1.2',
        'add KUBE-NODE-PORT-TCP 30082',
      ],
    },
    {
      name: 'a policy without an endpoint on this node: no virtual service, dropped (not refused)',
      state: stateOf([
        [svc({ name: 'itp', clusterIP: '10.96.0.16', port: 80, internalPolicyLocal: true }), [ep('10.244.9.2', 8080)]],
        [svc({ name: 'etp', clusterIP: '10.96.0.17', port: 80, externalIPs: ['192.168.50.17'], externalPolicyLocal: true }), [ep('10.244.9.3', 8080)]],
      ]),
      expected: [
        'addr add 10.96.0.16/32 dev kube-ipvs0',
        'addr add 10.96.0.17/32 dev kube-ipvs0',
        'addr add 192.168.50.17/32 dev kube-ipvs0',
        'link add kube-ipvs0 type dummy',
        '-A -t 10.96.0.17:80 -s rr',
        '-a -t 10.96.0.17:80 -r 10.244.9.3:8080 -m -w 1',
        'add KUBE-CLUSTER-IP 10.96.0.16,tcp:80',
        'add KUBE-CLUSTER-IP 10.96.0.17,tcp:80',
        'add KUBE-EXTERNAL-IP-LOCAL 192.168.50.17,tcp:80',
        'add KUBE-NO-LOCAL-ENDPOINTS 10.96.0.16,tcp:80',
        'add KUBE-NO-LOCAL-ENDPOINTS 192.168.50.17,tcp:80',
      ],
    },
    {
      name: 'load-balancer IP: bound, its own sets, source ranges and the health check node port',
      state: stateOf([
        [
          svc({
            name: 'lb',
            clusterIP: '10.96.0.18',
            port: 80,
            nodePort: 30083,
            loadBalancerIPs: ['203.0.113.18'],
            loadBalancerSourceRanges: ['192.168.1.0/24'],
            healthCheckNodePort: 32018,
            externalPolicyLocal: true,
          }),
          [ep('10.244.1.2', 8080, { isLocal: true })],
        ],
      ]),
      expected: [
        'addr add 10.96.0.18/32 dev kube-ipvs0',
        'addr add 203.0.113.18/32 dev kube-ipvs0',
        'link add kube-ipvs0 type dummy',
        '-A -t 10.96.0.18:80 -s rr',
        '-a -t 10.96.0.18:80 -r 10.244.1.2:8080 -m -w 1',
        '-A -t 203.0.113.18:80 -s rr',
        '-a -t 203.0.113.18:80 -r 10.244.1.2:8080 -m -w 1',
        '-A -t 192.168.1.10:30083 -s rr',
        '-a -t 192.168.1.10:30083 -r 10.244.1.2:8080 -m -w 1',
        'add KUBE-CLUSTER-IP 10.96.0.18,tcp:80',
        'add KUBE-HEALTH-CHECK-NODE-PORT 32018',
        'add KUBE-LOAD-BALANCER 203.0.113.18,tcp:80',
        'add KUBE-LOAD-BALANCER-FW 203.0.113.18,tcp:80',
        'add KUBE-LOAD-BALANCER-LOCAL 203.0.113.18,tcp:80',
        'add KUBE-LOAD-BALANCER-SOURCE-CIDR 203.0.113.18,tcp:80,192.168.1.0/24',
        // The range holds the node IP: the node reaching its own load-balancer IP is let through.
        'add KUBE-LOAD-BALANCER-SOURCE-IP 203.0.113.18,tcp:80,203.0.113.18',
        'add KUBE-LOOP-BACK 10.244.1.2,tcp:8080,10.244.1.2',
        'add KUBE-NODE-PORT-LOCAL-TCP 30083',
        'add KUBE-NODE-PORT-TCP 30083',
      ],
    },
  ];
  const backend = new IpvsBackend({ exec: new FakeNetExec() });
  for (const c of cases) {
    it(c.name, () => {
      const plan = renderIpvsPlan({ state: c.state, config, scheduler: 'rr', full: true });
      // describe() = what a restore into an empty kernel runs; drop the constant parts.
      const ours = sorted(backend.describe(plan)).filter((l) => /^(addr|link|add) |^-[Aa] -/.test(l));
      expect(ours).toEqual([...c.expected].sort());
    });
  }

  it('the number of iptables rules does not grow with services', () => {
    const one = renderIpvsPlan({ state: stateOf([[svc({ name: 'a', clusterIP: '10.96.0.1', port: 80 }), [ep('10.244.0.2', 80)]]]), config, scheduler: 'rr', full: true });
    const many = renderIpvsPlan({
      state: stateOf(Array.from({ length: 500 }, (_, i) => [svc({ name: `s${i}`, clusterIP: `10.96.${i >> 8}.${i & 255}`, port: 80, nodePort: 30000 + i }), [ep('10.244.0.2', 80)]])),
      config,
      scheduler: 'rr',
      full: true,
    });
    expect(many.iptables).toEqual(one.iptables);
    expect(many.virtualServers).toHaveLength(1000);
  });

  it('masqueradeAll masquerades every ClusterIP packet; without clusterCIDR nothing is masqueraded by source', () => {
    const state = stateOf([]);
    const all = renderIpvsPlan({ state, config: { ...config, masqueradeAll: true }, scheduler: 'rr', full: true });
    expect(all.iptables.nat.find((r) => r.includes('KUBE-CLUSTER-IP dst,dst -j KUBE-MARK-MASQ'))).not.toContain('! -s');
    const none = renderIpvsPlan({ state, config: { ...config, clusterCIDR: '' }, scheduler: 'rr', full: true });
    expect(none.iptables.nat.some((r) => r.includes('KUBE-CLUSTER-IP dst,dst -j KUBE-MARK-MASQ'))).toBe(false);
  });

  it('nodePortAddresses filters which node IPs get NodePort virtual services', () => {
    const state = stateOf([[svc({ name: 'np', clusterIP: '10.96.0.11', port: 80, nodePort: 30080 }), []]]);
    const plan = renderIpvsPlan({ state, config: { ...config, nodeIPs: ['192.168.1.10', '172.16.0.5'], nodePortAddresses: ['172.16.0.0/12'] }, scheduler: 'rr', full: true });
    expect(plan.virtualServers.map((v) => `${v.address}:${v.port}`)).toEqual(['10.96.0.11:80', '172.16.0.5:30080']);
  });
});

describe('RenderMemo', () => {
  it('reuses unchanged services, re-renders changed ones, and renders the same plan as without it', () => {
    const a = svc({ name: 'a', clusterIP: '10.96.0.1', port: 80, nodePort: 30001 });
    const b = svc({ name: 'b', clusterIP: '10.96.0.2', port: 80 });
    const s1 = stateOf([[a, [ep('10.244.0.2', 80)]], [b, [ep('10.244.0.3', 80)]]]);
    const memo = new RenderMemo();
    const p1 = renderIpvsPlan({ state: s1, config, scheduler: 'rr', full: true, memo });
    const s2 = { services: s1.services, endpoints: new Map(s1.endpoints).set(b.id, [ep('10.244.0.4', 80)]) };
    const p2 = renderIpvsPlan({ state: s2, config, scheduler: 'rr', full: false, memo });
    const byKey = (p: typeof p1, addr: string): unknown => p.virtualServers.find((v) => v.address === addr);
    expect(byKey(p2, '10.96.0.1')).toBe(byKey(p1, '10.96.0.1'));
    expect(byKey(p2, '10.96.0.2')).not.toBe(byKey(p1, '10.96.0.2'));
    expect(p2).toEqual(renderIpvsPlan({ state: s2, config, scheduler: 'rr', full: false }));
    // A deleted service drops out; another config invalidates everything.
    const s3 = stateOf([[a, [ep('10.244.0.2', 80)]]]);
    expect(renderIpvsPlan({ state: s3, config, scheduler: 'rr', full: false, memo })).toEqual(renderIpvsPlan({ state: s3, config, scheduler: 'rr', full: false }));
    const other = { ...config, nodeIPs: ['192.168.1.11'] };
    expect(renderIpvsPlan({ state: s3, config: other, scheduler: 'rr', full: false, memo })).toEqual(renderIpvsPlan({ state: s3, config: other, scheduler: 'rr', full: false }));
  });
});
