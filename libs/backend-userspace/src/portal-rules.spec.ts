import { describe, expect, it } from 'vitest';
import type { ProxyPlan } from './plan.js';
import { PORTAL_JUMPS, lineKey, renderPortalCleanup, renderPortalRestore, renderPortalRuleLines } from './portal-rules.js';

const web: ProxyPlan = {
  id: 'default/web:http',
  protocol: 'TCP',
  clusterIP: '10.96.0.10',
  port: 80,
  nodePort: 30080,
  externalIPs: ['192.0.2.7'],
  affinity: { kind: 'None' },
  endpoints: [{ host: '10.244.1.2', port: 8080 }],
};
const dns: ProxyPlan = {
  id: 'kube-system/dns:dns',
  protocol: 'UDP',
  clusterIP: '10.96.0.53',
  port: 53,
  nodePort: 0,
  externalIPs: [],
  affinity: { kind: 'None' },
  endpoints: [{ host: '10.244.1.3', port: 53 }],
};

const sorted = (lines: string[]) => [...lines].sort();

describe('renderPortalRuleLines (golden, compared sorted)', () => {
  const cases = [
    {
      name: 'bind 0.0.0.0: pods REDIRECT, node DNATs to its node IP',
      bindAddress: '0.0.0.0',
      proxies: [web, dns],
      ports: new Map([
        ['default/web:http', 36000],
        ['kube-system/dns:dns', 36001],
      ]),
      want: [
        'nat -A KUBE-PORTALS-CONTAINER -d 10.96.0.10/32 -p tcp -m comment --comment "default/web:http cluster IP" -m tcp --dport 80 -j REDIRECT --to-ports 36000',
        'nat -A KUBE-PORTALS-HOST -d 10.96.0.10/32 -p tcp -m comment --comment "default/web:http cluster IP" -m tcp --dport 80 -j DNAT --to-destination 10.0.0.1:36000',
        'nat -A KUBE-PORTALS-CONTAINER -d 192.0.2.7/32 -p tcp -m comment --comment "default/web:http external IP" -m tcp --dport 80 -j REDIRECT --to-ports 36000',
        'nat -A KUBE-PORTALS-HOST -d 192.0.2.7/32 -p tcp -m comment --comment "default/web:http external IP" -m tcp --dport 80 -j DNAT --to-destination 10.0.0.1:36000',
        'nat -A KUBE-NODEPORT-CONTAINER -p tcp -m comment --comment "default/web:http node port" -m tcp --dport 30080 -j REDIRECT --to-ports 36000',
        'nat -A KUBE-NODEPORT-HOST -p tcp -m comment --comment "default/web:http node port" -m tcp --dport 30080 -j DNAT --to-destination 10.0.0.1:36000',
        'nat -A KUBE-PORTALS-CONTAINER -d 10.96.0.53/32 -p udp -m comment --comment "kube-system/dns:dns cluster IP" -m udp --dport 53 -j REDIRECT --to-ports 36001',
        'nat -A KUBE-PORTALS-HOST -d 10.96.0.53/32 -p udp -m comment --comment "kube-system/dns:dns cluster IP" -m udp --dport 53 -j DNAT --to-destination 10.0.0.1:36001',
      ],
    },
    {
      name: 'specific bind address: everything DNATs to it',
      bindAddress: '10.0.0.5',
      proxies: [dns],
      ports: new Map([['kube-system/dns:dns', 40000]]),
      want: [
        'nat -A KUBE-PORTALS-CONTAINER -d 10.96.0.53/32 -p udp -m comment --comment "kube-system/dns:dns cluster IP" -m udp --dport 53 -j DNAT --to-destination 10.0.0.5:40000',
        'nat -A KUBE-PORTALS-HOST -d 10.96.0.53/32 -p udp -m comment --comment "kube-system/dns:dns cluster IP" -m udp --dport 53 -j DNAT --to-destination 10.0.0.5:40000',
      ],
    },
    {
      name: 'a service port without an open socket gets no rules',
      bindAddress: '0.0.0.0',
      proxies: [web, dns],
      ports: new Map([['kube-system/dns:dns', 36001]]),
      want: [
        'nat -A KUBE-PORTALS-CONTAINER -d 10.96.0.53/32 -p udp -m comment --comment "kube-system/dns:dns cluster IP" -m udp --dport 53 -j REDIRECT --to-ports 36001',
        'nat -A KUBE-PORTALS-HOST -d 10.96.0.53/32 -p udp -m comment --comment "kube-system/dns:dns cluster IP" -m udp --dport 53 -j DNAT --to-destination 10.0.0.1:36001',
      ],
    },
    {
      name: 'no endpoints: REJECT in filter (refused at once), no portal',
      bindAddress: '0.0.0.0',
      proxies: [{ ...web, endpoints: [] }],
      ports: new Map([['default/web:http', 36000]]),
      want: [
        'filter -A KUBE-PORTALS-REJECT -d 10.96.0.10/32 -p tcp -m comment --comment "default/web:http has no endpoints" -m tcp --dport 80 -j REJECT --reject-with tcp-reset',
        'filter -A KUBE-PORTALS-REJECT -d 192.0.2.7/32 -p tcp -m comment --comment "default/web:http has no endpoints" -m tcp --dport 80 -j REJECT --reject-with tcp-reset',
        'filter -A KUBE-PORTALS-REJECT -p tcp -m addrtype --dst-type LOCAL -m comment --comment "default/web:http has no endpoints" -m tcp --dport 30080 -j REJECT --reject-with tcp-reset',
      ],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = renderPortalRuleLines({ proxies: c.proxies, proxyPorts: c.ports, bindAddress: c.bindAddress, hostPortalIP: '10.0.0.1' });
      expect(sorted(got.map(lineKey))).toEqual(sorted(c.want));
    });
  }
});

describe('renderPortalRuleLines: traffic policies', () => {
  const local = { host: '10.244.1.2', port: 8080 };
  const remote = { host: '10.244.2.2', port: 8080 };
  const ports = new Map([
    ['default/web:http', 36000],
    ['default/web:http|local', 36001],
  ]);
  const render = (p: Partial<ProxyPlan>) =>
    renderPortalRuleLines({ proxies: [{ ...web, ...p }], proxyPorts: ports, bindAddress: '0.0.0.0', hostPortalIP: '10.0.0.1', clusterCIDR: '10.244.0.0/16', nodeIPs: ['10.0.0.1'] }).map(lineKey);

  it('internalTrafficPolicy Local: the cluster IP goes to the local socket, external destinations to every endpoint', () => {
    const lines = render({ endpoints: [local, remote], localEndpoints: [local], internalPolicyLocal: true });
    expect(lines).toContain('nat -A KUBE-PORTALS-CONTAINER -d 10.96.0.10/32 -p tcp -m comment --comment "default/web:http cluster IP" -m tcp --dport 80 -j REDIRECT --to-ports 36001');
    expect(lines).toContain('nat -A KUBE-NODEPORT-CONTAINER -p tcp -m comment --comment "default/web:http node port" -m tcp --dport 30080 -j REDIRECT --to-ports 36000');
  });

  it('internalTrafficPolicy Local without a local endpoint: the cluster IP is dropped, not rejected', () => {
    const lines = render({ endpoints: [remote], localEndpoints: [], internalPolicyLocal: true });
    expect(lines).toContain('filter -A KUBE-PORTALS-REJECT -d 10.96.0.10/32 -p tcp -m comment --comment "default/web:http has no local endpoints" -m tcp --dport 80 -j DROP');
    expect(lines.filter((l) => l.includes('cluster IP'))).toEqual([]);
  });

  it('externalTrafficPolicy Local: pods and the node keep every endpoint, outside clients the local ones; none local = DROP', () => {
    const lines = render({ endpoints: [local, remote], localEndpoints: [local], externalPolicyLocal: true });
    expect(lines).toEqual(
      expect.arrayContaining([
        'nat -A KUBE-NODEPORT-CONTAINER -s 10.244.0.0/16 -p tcp -m comment --comment "default/web:http node port" -m tcp --dport 30080 -j REDIRECT --to-ports 36000',
        'nat -A KUBE-NODEPORT-CONTAINER -p tcp -m comment --comment "default/web:http node port" -m tcp --dport 30080 -j REDIRECT --to-ports 36001',
        'nat -A KUBE-NODEPORT-HOST -p tcp -m comment --comment "default/web:http node port" -m tcp --dport 30080 -j DNAT --to-destination 10.0.0.1:36000',
      ]),
    );
    const none = render({ endpoints: [remote], localEndpoints: [], externalPolicyLocal: true });
    expect(none).toContain('filter -A KUBE-PORTALS-REJECT -p tcp -m addrtype --dst-type LOCAL -m comment --comment "default/web:http has no local endpoints" -m tcp --dport 30080 -j DROP');
    expect(none.filter((l) => l.startsWith('nat -A KUBE-NODEPORT-CONTAINER'))).toEqual([
      'nat -A KUBE-NODEPORT-CONTAINER -s 10.244.0.0/16 -p tcp -m comment --comment "default/web:http node port" -m tcp --dport 30080 -j REDIRECT --to-ports 36000',
    ]);
  });

  it('loadBalancerSourceRanges: a portal per range, everything else dropped', () => {
    const lines = render({ endpoints: [local], externalIPs: [], nodePort: 0, loadBalancerIPs: ['203.0.113.9'], loadBalancerSourceRanges: ['192.168.60.0/24'] });
    expect(lines.filter((l) => l.includes('203.0.113.9'))).toEqual([
      'nat -A KUBE-PORTALS-CONTAINER -s 192.168.60.0/24 -d 203.0.113.9/32 -p tcp -m comment --comment "default/web:http loadbalancer IP" -m tcp --dport 80 -j REDIRECT --to-ports 36000',
      'filter -A KUBE-PORTALS-REJECT -d 203.0.113.9/32 -p tcp -m comment --comment "default/web:http traffic not in loadBalancerSourceRanges" -m tcp --dport 80 -j DROP',
    ]);
  });
});

describe('renderPortalRestore', () => {
  it('declares (= flushes) every owned chain, inserts missing jumps, one COMMIT per table', () => {
    const text = renderPortalRestore(
      [
        { table: 'nat', line: '-A KUBE-PORTALS-HOST -j ACCEPT' },
        { table: 'filter', line: '-A KUBE-PORTALS-REJECT -j REJECT' },
      ],
      [PORTAL_JUMPS[0]!, PORTAL_JUMPS[6]!],
    );
    expect(text.split('\n')).toEqual([
      '*nat',
      ':KUBE-NODEPORT-CONTAINER - [0:0]',
      ':KUBE-NODEPORT-HOST - [0:0]',
      ':KUBE-PORTALS-CONTAINER - [0:0]',
      ':KUBE-PORTALS-HOST - [0:0]',
      '-I PREROUTING -m comment --comment "svcnet userspace portals" -j KUBE-PORTALS-CONTAINER',
      '-A KUBE-PORTALS-HOST -j ACCEPT',
      'COMMIT',
      '*filter',
      ':KUBE-PORTALS-REJECT - [0:0]',
      '-I OUTPUT -m comment --comment "svcnet userspace reject" -j KUBE-PORTALS-REJECT',
      '-A KUBE-PORTALS-REJECT -j REJECT',
      'COMMIT',
      '',
    ]);
  });
});

describe('renderPortalCleanup', () => {
  const save = [
    '*nat',
    ':PREROUTING ACCEPT [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    ':KUBE-PORTALS-CONTAINER - [0:0]',
    ':KUBE-SERVICES - [0:0]',
    PORTAL_JUMPS[0]!.line,
    '-A PREROUTING -j KUBE-SERVICES',
    '-A KUBE-PORTALS-CONTAINER -d 10.96.0.10/32 -p tcp -j REDIRECT --to-ports 1',
    'COMMIT',
    '*filter',
    ':KUBE-PORTALS-REJECT - [0:0]',
    PORTAL_JUMPS[0]!.line.replace('PREROUTING', 'INPUT'), // same text in another table: not ours
    'COMMIT',
  ].join('\n');

  it('deletes only our jumps and chains, never anyone else’s', () => {
    expect(renderPortalCleanup(save)?.split('\n')).toEqual([
      '*nat',
      ':KUBE-PORTALS-CONTAINER - [0:0]',
      '-D PREROUTING -m comment --comment "svcnet userspace portals" -j KUBE-PORTALS-CONTAINER',
      '-X KUBE-PORTALS-CONTAINER',
      'COMMIT',
      '*filter',
      ':KUBE-PORTALS-REJECT - [0:0]',
      '-X KUBE-PORTALS-REJECT',
      'COMMIT',
      '',
    ]);
  });

  it('returns undefined when nothing of ours exists', () => {
    expect(renderPortalCleanup('*nat\n:KUBE-SERVICES - [0:0]\n-A PREROUTING -j KUBE-SERVICES\nCOMMIT\n')).toBeUndefined();
  });
});

describe('--nodeport-addresses in userspace mode', () => {
  const base = { proxies: [web], proxyPorts: new Map([['default/web:http', 36000]]), bindAddress: '0.0.0.0', hostPortalIP: '10.0.0.1' };

  it('restricts node port portals (and their rejects) to the given CIDRs, one rule per CIDR', () => {
    const lines = renderPortalRuleLines({ ...base, nodePortAddresses: ['192.168.77.11/32', '10.0.0.0/8'] }).map(lineKey);
    expect(lines.filter((l) => l.includes('KUBE-NODEPORT-'))).toEqual([
      'nat -A KUBE-NODEPORT-CONTAINER -d 192.168.77.11/32 -p tcp -m comment --comment "default/web:http node port" -m tcp --dport 30080 -j REDIRECT --to-ports 36000',
      'nat -A KUBE-NODEPORT-HOST -d 192.168.77.11/32 -p tcp -m comment --comment "default/web:http node port" -m tcp --dport 30080 -j DNAT --to-destination 10.0.0.1:36000',
      'nat -A KUBE-NODEPORT-CONTAINER -d 10.0.0.0/8 -p tcp -m comment --comment "default/web:http node port" -m tcp --dport 30080 -j REDIRECT --to-ports 36000',
      'nat -A KUBE-NODEPORT-HOST -d 10.0.0.0/8 -p tcp -m comment --comment "default/web:http node port" -m tcp --dport 30080 -j DNAT --to-destination 10.0.0.1:36000',
    ]);
    // Cluster IP portals are not affected.
    expect(lines.filter((l) => l.includes('KUBE-PORTALS-'))).toHaveLength(4);
    const rejects = renderPortalRuleLines({ ...base, proxies: [{ ...web, endpoints: [] }], nodePortAddresses: ['192.168.77.11/32'] }).map(lineKey);
    expect(rejects.filter((l) => l.includes('--dport 30080'))).toEqual([
      'filter -A KUBE-PORTALS-REJECT -d 192.168.77.11/32 -p tcp -m addrtype --dst-type LOCAL -m comment --comment "default/web:http has no endpoints" -m tcp --dport 30080 -j REJECT --reject-with tcp-reset',
    ]);
  });

  it('an empty list keeps every local address', () => {
    const lines = renderPortalRuleLines({ ...base, nodePortAddresses: [] }).map(lineKey);
    expect(lines.filter((l) => l.includes('KUBE-NODEPORT-')).every((l) => !l.includes(' -d '))).toBe(true);
  });
});
