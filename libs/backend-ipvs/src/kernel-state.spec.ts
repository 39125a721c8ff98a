import { describe, expect, it } from 'vitest';
import { parseConnectionCounts, parseIpsetSave, parseIpvsadmSave, parseLinkAddresses } from './kernel-state.js';

describe('kernel read-back parsers', () => {
  it('ipvsadm -Sn: services, persistence, UDP and weights', () => {
    const vss = parseIpvsadmSave(
      ['-A -t 10.96.0.11:80 -s rr -p 60', '-a -t 10.96.0.11:80 -r 10.244.2.2:8080 -m -w 0', '-a -t 10.96.0.11:80 -r 10.244.1.2:8080 -m -w 1', '-A -u 10.96.0.53:53 -s lc', ''].join('\n'),
    );
    expect([...vss.keys()]).toEqual(['tcp:10.96.0.11:80', 'udp:10.96.0.53:53']);
    const sticky = vss.get('tcp:10.96.0.11:80')!;
    expect(sticky).toMatchObject({ scheduler: 'rr', persistenceSeconds: 60 });
    expect(sticky.reals).toEqual([
      { address: '10.244.1.2', port: 8080, weight: 1 },
      { address: '10.244.2.2', port: 8080, weight: 0 },
    ]);
    expect(vss.get('udp:10.96.0.53:53')).toMatchObject({ scheduler: 'lc', persistenceSeconds: 0, reals: [] });
  });

  const FOREIGN: { name: string; lines: string[]; vs?: string; real?: string }[] = [
    { name: 'nothing foreign in what svcnet writes', lines: ['-A -t 10.96.0.10:80 -s rr -p 60', '-a -t 10.96.0.10:80 -r 10.244.1.2:8080 -m -w 1'] },
    { name: 'direct routing instead of masquerade', lines: ['-A -t 10.96.0.10:80 -s rr', '-a -t 10.96.0.10:80 -r 10.244.1.2:8080 -g -w 1'], real: '-g' },
    { name: 'tunnel forwarding', lines: ['-A -t 10.96.0.10:80 -s rr', '-a -t 10.96.0.10:80 -r 10.244.1.2:8080 -i -w 1'], real: '-i' },
    { name: 'connection thresholds', lines: ['-A -t 10.96.0.10:80 -s rr', '-a -t 10.96.0.10:80 -r 10.244.1.2:8080 -m -w 1 -x 100 -y 10'], real: '-x 100 -y 10' },
    { name: 'persistence netmask', lines: ['-A -t 10.96.0.10:80 -s rr -p 60 -M 255.255.255.0', '-a -t 10.96.0.10:80 -r 10.244.1.2:8080 -m -w 1'], vs: '-M 255.255.255.0' },
    { name: 'one-packet scheduling', lines: ['-A -u 10.96.0.10:53 -s rr -o', '-a -u 10.96.0.10:53 -r 10.244.1.2:53 -m -w 1'], vs: '-o' },
  ];
  it.each(FOREIGN)('ipvsadm -Sn options svcnet never sets are kept as foreign: $name', ({ lines, vs, real }) => {
    const [got] = [...parseIpvsadmSave(lines.join('\n')).values()];
    expect(got!.foreign).toBe(vs);
    expect(got!.reals[0]!.foreign).toBe(real);
  });

  it('ipvsadm -Ln: connection counts per real server', () => {
    const text = `IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  10.96.0.10:80 rr
  -> 10.244.1.2:8080              Masq    1      0          2
  -> 10.244.2.2:8080              Masq    0      1          0
UDP  10.96.0.53:53 rr persistent 60
  -> 10.244.1.3:53                Masq    1      0          4
`;
    expect(Object.fromEntries(parseConnectionCounts(text))).toEqual({
      'tcp:10.96.0.10:80|10.244.1.2:8080': { active: 0, inactive: 2 },
      'tcp:10.96.0.10:80|10.244.2.2:8080': { active: 1, inactive: 0 },
      'udp:10.96.0.53:53|10.244.1.3:53': { active: 0, inactive: 4 },
    });
  });

  it('ipset save: only our sets, members as printed', () => {
    const sets = parseIpsetSave(
      'create KUBE-CLUSTER-IP hash:ip,port family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x1\nadd KUBE-CLUSTER-IP 10.96.0.10,tcp:80\ncreate OTHER hash:ip\nadd OTHER 1.2.3.4\n',
      new Set(['KUBE-CLUSTER-IP']),
    );
    expect([...sets.keys()]).toEqual(['KUBE-CLUSTER-IP']);
    expect(sets.get('KUBE-CLUSTER-IP')).toEqual({ type: 'hash:ip,port', members: new Set(['10.96.0.10,tcp:80']) });
  });

  it('ip -o addr: the bound addresses', () => {
    const text = '9: kube-ipvs0    inet 10.96.0.10/32 scope global kube-ipvs0\\       valid_lft forever preferred_lft forever\n9: kube-ipvs0    inet 10.96.0.11/32 scope global kube-ipvs0\\ ...\n';
    expect([...parseLinkAddresses(text)]).toEqual(['10.96.0.10', '10.96.0.11']);
  });
});
