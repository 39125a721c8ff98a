import { describe, expect, it } from 'vitest';
import { canonicalRule } from './rule-canon.js';

/** Our rule text and what iptables-save (legacy and nft 1.8.9) printed for it. */
const SAME: { name: string; ours: string; saved: string }[] = [
  {
    name: 'masquerade from outside the cluster CIDR (matches reordered)',
    ours: '-A KUBE-SVC-Z -m comment --comment "ns/a:http cluster IP" -m tcp -p tcp -d 10.96.0.14/32 --dport 80 ! -s 10.244.0.0/16 -j KUBE-MARK-MASQ',
    saved: '-A KUBE-SVC-Z ! -s 10.244.0.0/16 -d 10.96.0.14/32 -p tcp -m comment --comment "ns/a:http cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ',
  },
  {
    name: 'affinity check (recent defaults spelled out)',
    ours: '-A KUBE-SVC-Z -m comment --comment "ns/a:http -> 10.244.1.30:8080" -m recent --name KUBE-SEP-N --rcheck --seconds 600 --reap -j KUBE-SEP-N',
    saved: '-A KUBE-SVC-Z -m comment --comment "ns/a:http -> 10.244.1.30:8080" -m recent --rcheck --seconds 600 --reap --name KUBE-SEP-N --mask 255.255.255.255 --rsource -j KUBE-SEP-N',
  },
  {
    name: 'affinity set + DNAT',
    ours: '-A KUBE-SEP-N -m comment --comment "ns/a:http" -m recent --name KUBE-SEP-N --set -m tcp -p tcp -j DNAT --to-destination 10.244.1.30:8080',
    saved: '-A KUBE-SEP-N -p tcp -m comment --comment "ns/a:http" -m recent --set --name KUBE-SEP-N --mask 255.255.255.255 --rsource -m tcp -j DNAT --to-destination 10.244.1.30:8080',
  },
  {
    name: 'probability printed with another precision',
    ours: '-A KUBE-SVC-Z -m comment --comment "ns/a:http -> 10.244.1.32:8080" -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-6',
    saved: '-A KUBE-SVC-Z -m comment --comment "ns/a:http -> 10.244.1.32:8080" -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-6',
  },
  {
    name: 'probability rounded to the kernel fraction',
    ours: '-A KUBE-SVC-Z -m statistic --mode random --probability 0.2000000000 -j KUBE-SEP-6',
    saved: '-A KUBE-SVC-Z -m statistic --mode random --probability 0.20000000019 -j KUBE-SEP-6',
  },
  {
    name: 'masquerade mark of the pod itself',
    ours: '-A KUBE-SEP-N -m comment --comment "ns/a:http" -s 10.244.1.30/32 -j KUBE-MARK-MASQ',
    saved: '-A KUBE-SEP-N -s 10.244.1.30/32 -m comment --comment "ns/a:http" -j KUBE-MARK-MASQ',
  },
  { name: 'or-mark', ours: '-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000', saved: '-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000' },
  { name: 'xor-mark', ours: '-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000', saved: '-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0' },
  {
    name: 'REJECT with its default icmp type',
    ours: '-A KUBE-EXTERNAL-SERVICES -m comment --comment "ns/a:http has no endpoints" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 30007 -j REJECT',
    saved: '-A KUBE-EXTERNAL-SERVICES -p tcp -m comment --comment "ns/a:http has no endpoints" -m addrtype --dst-type LOCAL -m tcp --dport 30007 -j REJECT --reject-with icmp-port-unreachable',
  },
  {
    name: 'comment without quotes, address without prefix',
    ours: '-A KUBE-SEP-N -m comment --comment "ns/a:http" -s 10.244.1.30/32 -j KUBE-MARK-MASQ',
    saved: '-A KUBE-SEP-N -s 10.244.1.30 -m comment --comment ns/a:http -j KUBE-MARK-MASQ',
  },
  {
    name: 'conntrack states in another order',
    ours: '-A KUBE-FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
    saved: '-A KUBE-FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT',
  },
];

const DNAT = '-A KUBE-SEP-N -m comment --comment "ns/a:http" -m tcp -p tcp -j DNAT --to-destination 10.244.1.30:8080';
const DIFFERENT: { name: string; ours: string; kernel: string }[] = [
  { name: 'DNAT to another pod', ours: DNAT, kernel: DNAT.replace('10.244.1.30', '10.244.1.99') },
  { name: 'DNAT to another port', ours: DNAT, kernel: DNAT.replace(':8080', ':8081') },
  { name: 'another protocol', ours: DNAT, kernel: DNAT.replaceAll('tcp', 'udp') },
  { name: 'another target', ours: DNAT, kernel: '-A KUBE-SEP-N -m comment --comment "ns/a:http" -m tcp -p tcp -j ACCEPT' },
  { name: 'another comment', ours: DNAT, kernel: DNAT.replace('ns/a:http', 'ns/b:http') },
  {
    name: 'negation dropped',
    ours: '-A KUBE-SVC-Z -d 10.96.0.1/32 ! -s 10.244.0.0/16 -j KUBE-MARK-MASQ',
    kernel: '-A KUBE-SVC-Z -d 10.96.0.1/32 -s 10.244.0.0/16 -j KUBE-MARK-MASQ',
  },
  {
    name: 'another probability',
    ours: '-A KUBE-SVC-Z -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-6',
    kernel: '-A KUBE-SVC-Z -m statistic --mode random --probability 0.99000000000 -j KUBE-SEP-6',
  },
  { name: 'another mark', ours: '-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000', kernel: '-A KUBE-MARK-MASQ -j MARK --set-xmark 0x8000/0x8000' },
  {
    name: 'another affinity timeout',
    ours: '-A KUBE-SVC-Z -m recent --name KUBE-SEP-N --rcheck --seconds 600 --reap -j KUBE-SEP-N',
    kernel: '-A KUBE-SVC-Z -m recent --rcheck --seconds 60 --reap --name KUBE-SEP-N --mask 255.255.255.255 --rsource -j KUBE-SEP-N',
  },
  { name: 'another node port', ours: '-A KUBE-NODEPORTS -m tcp -p tcp --dport 30010 -j KUBE-EXT-Z', kernel: '-A KUBE-NODEPORTS -p tcp -m tcp --dport 30011 -j KUBE-EXT-Z' },
];

describe('canonicalRule', () => {
  it.each(SAME)('our text and iptables-save agree: $name', ({ ours, saved }) => {
    expect(canonicalRule(saved)).toBe(canonicalRule(ours));
  });

  it.each(DIFFERENT)('a rule changed in place differs: $name', ({ ours, kernel }) => {
    expect(canonicalRule(kernel)).not.toBe(canonicalRule(ours));
  });
});
