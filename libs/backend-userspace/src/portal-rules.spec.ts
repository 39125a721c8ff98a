import { describe, expect, it } from 'vitest';
import type { ProxyPlan } from './plan.js';
import { PORTAL_JUMPS, renderPortalCleanup, renderPortalRestore, renderPortalRuleLines } from './portal-rules.js';

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
  endpoints: [],
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
        '-A KUBE-PORTALS-CONTAINER -d 10.96.0.10/32 -p tcp -m comment --comment "default/web:http cluster IP" -m tcp --dport 80 -j REDIRECT --to-ports 36000',
        '-A KUBE-PORTALS-HOST -d 10.96.0.10/32 -p tcp -m comment --comment "default/web:http cluster IP" -m tcp --dport 80 -j DNAT --to-destination 10.0.0.1:36000',
        '-A KUBE-PORTALS-CONTAINER -d 192.0.2.7/32 -p tcp -m comment --comment "default/web:http external IP" -m tcp --dport 80 -j REDIRECT --to-ports 36000',
        '-A KUBE-PORTALS-HOST -d 192.0.2.7/32 -p tcp -m comment --comment "default/web:http external IP" -m tcp --dport 80 -j DNAT --to-destination 10.0.0.1:36000',
        '-A KUBE-NODEPORT-CONTAINER -p tcp -m comment --comment "default/web:http node port" -m tcp --dport 30080 -j REDIRECT --to-ports 36000',
        '-A KUBE-NODEPORT-HOST -p tcp -m comment --comment "default/web:http node port" -m tcp --dport 30080 -j DNAT --to-destination 10.0.0.1:36000',
        '-A KUBE-PORTALS-CONTAINER -d 10.96.0.53/32 -p udp -m comment --comment "kube-system/dns:dns cluster IP" -m udp --dport 53 -j REDIRECT --to-ports 36001',
        '-A KUBE-PORTALS-HOST -d 10.96.0.53/32 -p udp -m comment --comment "kube-system/dns:dns cluster IP" -m udp --dport 53 -j DNAT --to-destination 10.0.0.1:36001',
      ],
    },
    {
      name: 'specific bind address: everything DNATs to it',
      bindAddress: '10.0.0.5',
      proxies: [dns],
      ports: new Map([['kube-system/dns:dns', 40000]]),
      want: [
        '-A KUBE-PORTALS-CONTAINER -d 10.96.0.53/32 -p udp -m comment --comment "kube-system/dns:dns cluster IP" -m udp --dport 53 -j DNAT --to-destination 10.0.0.5:40000',
        '-A KUBE-PORTALS-HOST -d 10.96.0.53/32 -p udp -m comment --comment "kube-system/dns:dns cluster IP" -m udp --dport 53 -j DNAT --to-destination 10.0.0.5:40000',
      ],
    },
    {
      name: 'a service port without an open socket gets no rules',
      bindAddress: '0.0.0.0',
      proxies: [web, dns],
      ports: new Map([['kube-system/dns:dns', 36001]]),
      want: [
        '-A KUBE-PORTALS-CONTAINER -d 10.96.0.53/32 -p udp -m comment --comment "kube-system/dns:dns cluster IP" -m udp --dport 53 -j REDIRECT --to-ports 36001',
        '-A KUBE-PORTALS-HOST -d 10.96.0.53/32 -p udp -m comment --comment "kube-system/dns:dns cluster IP" -m udp --dport 53 -j DNAT --to-destination 10.0.0.1:36001',
      ],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = renderPortalRuleLines({ proxies: c.proxies, proxyPorts: c.ports, bindAddress: c.bindAddress, hostPortalIP: '10.0.0.1' });
      expect(sorted(got)).toEqual(sorted(c.want));
    });
  }
});

describe('renderPortalRestore', () => {
  it('declares (= flushes) all four chains, inserts missing jumps, one COMMIT', () => {
    const text = renderPortalRestore(['-A KUBE-PORTALS-HOST -j ACCEPT'], [PORTAL_JUMPS[0]!]);
    expect(text.split('\n')).toEqual([
      '*nat',
      ':KUBE-NODEPORT-CONTAINER - [0:0]',
      ':KUBE-NODEPORT-HOST - [0:0]',
      ':KUBE-PORTALS-CONTAINER - [0:0]',
      ':KUBE-PORTALS-HOST - [0:0]',
      '-I PREROUTING -m comment --comment "svcnet userspace portals" -j KUBE-PORTALS-CONTAINER',
      '-A KUBE-PORTALS-HOST -j ACCEPT',
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
    PORTAL_JUMPS[0]!,
    '-A PREROUTING -j KUBE-SERVICES',
    '-A KUBE-PORTALS-CONTAINER -d 10.96.0.10/32 -p tcp -j REDIRECT --to-ports 1',
    'COMMIT',
  ].join('\n');

  it('deletes only our jumps and chains, never anyone else’s', () => {
    expect(renderPortalCleanup(save)?.split('\n')).toEqual([
      '*nat',
      ':KUBE-PORTALS-CONTAINER - [0:0]',
      '-D PREROUTING -m comment --comment "svcnet userspace portals" -j KUBE-PORTALS-CONTAINER',
      '-X KUBE-PORTALS-CONTAINER',
      'COMMIT',
      '',
    ]);
  });

  it('returns undefined when nothing of ours exists', () => {
    expect(renderPortalCleanup('*nat\n:KUBE-SERVICES - [0:0]\n-A PREROUTING -j KUBE-SERVICES\nCOMMIT\n')).toBeUndefined();
  });
});
