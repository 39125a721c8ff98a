import { describe, expect, it } from 'vitest';
import { iptablesCleanupInput, parseIptablesSave } from './iptables-rules.js';

const ipvsFlavour = `*nat
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-NODE-PORT - [0:0]
:KUBE-POSTROUTING - [0:0]
:KUBE-SERVICES - [0:0]
:OTHER - [0:0]
-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A PREROUTING -j OTHER
-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING
-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000
-A KUBE-SERVICES -m set --match-set KUBE-CLUSTER-IP dst,dst -j ACCEPT
COMMIT
*filter
:INPUT ACCEPT [0:0]
:KUBE-FORWARD - [0:0]
:KUBE-IPVS-FILTER - [0:0]
-A INPUT -m comment --comment "kubernetes ipvs access filter" -j KUBE-IPVS-FILTER
COMMIT
`;

describe('iptables cleanup', () => {
  const cases = [
    {
      name: 'IPVS rules in the shared chains: all our chains and jumps go, OTHER stays',
      save: ipvsFlavour,
      expected: [
        '*nat',
        ':KUBE-NODE-PORT - [0:0]',
        ':KUBE-SERVICES - [0:0]',
        ':KUBE-POSTROUTING - [0:0]',
        ':KUBE-MARK-MASQ - [0:0]',
        '-D PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        '-D OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        '-D POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
        '-X KUBE-NODE-PORT',
        '-X KUBE-SERVICES',
        '-X KUBE-POSTROUTING',
        '-X KUBE-MARK-MASQ',
        'COMMIT',
        '*filter',
        ':KUBE-IPVS-FILTER - [0:0]',
        ':KUBE-FORWARD - [0:0]',
        '-D INPUT -m comment --comment "kubernetes ipvs access filter" -j KUBE-IPVS-FILTER',
        '-X KUBE-IPVS-FILTER',
        '-X KUBE-FORWARD',
        'COMMIT',
      ],
    },
    {
      name: 'iptables mode owns the shared chains: only IPVS-only chains go',
      save: ipvsFlavour.replace('-A KUBE-SERVICES -m set --match-set KUBE-CLUSTER-IP dst,dst -j ACCEPT', '-A KUBE-SERVICES -d 10.96.0.10/32 -p tcp -m tcp --dport 80 -j KUBE-SVC-ABC'),
      expected: [
        '*nat',
        ':KUBE-NODE-PORT - [0:0]',
        '-X KUBE-NODE-PORT',
        'COMMIT',
        '*filter',
        ':KUBE-IPVS-FILTER - [0:0]',
        '-D INPUT -m comment --comment "kubernetes ipvs access filter" -j KUBE-IPVS-FILTER',
        '-X KUBE-IPVS-FILTER',
        'COMMIT',
      ],
    },
    { name: 'nothing of ours: no call', save: '*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n', expected: undefined },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const out = iptablesCleanupInput(parseIptablesSave(c.save));
      expect(out === undefined ? undefined : out.trimEnd().split('\n')).toEqual(c.expected);
    });
  }
});
