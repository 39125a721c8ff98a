import { describe, expect, it } from 'vitest';
import { cidrContains, cidrsOverlap, ipInCidr, isCidr, parseCidr, parseCidrList } from './cidr.js';
import { IpFamily } from '@svcnet/model';
import { parseIp } from './address.js';

describe('parseCidr', () => {
  const cases = [
    { name: 'ipv4 /24', input: '10.0.0.0/24', cidr: '10.0.0.0/24', total: 256n },
    { name: 'ipv4 host bits cleared', input: '10.96.3.7/12', cidr: '10.96.0.0/12', total: 1n << 20n },
    { name: 'ipv4 /32', input: '10.0.0.1/32', cidr: '10.0.0.1/32', total: 1n },
    { name: 'ipv4 /0', input: '0.0.0.0/0', cidr: '0.0.0.0/0', total: 1n << 32n },
    { name: 'ipv6 /64', input: 'fd00:10:96::/64', cidr: 'fd00:10:96::/64', total: 1n << 64n },
    { name: 'ipv6 /108 normalised', input: 'FD00::1:2/108', cidr: 'fd00::/108', total: 1n << 20n },
  ];
  it.each(cases)('$name', ({ input, cidr, total }) => {
    const block = parseCidr(input, 'f');
    expect(block.cidr).toBe(cidr);
    expect(block.totalSize).toBe(total);
  });

  const bad = [
    { name: 'no prefix', input: '10.0.0.0' },
    { name: 'prefix too long v4', input: '10.0.0.0/33' },
    { name: 'prefix too long v6', input: 'fd00::/129' },
    { name: 'prefix not a number', input: '10.0.0.0/x' },
    { name: 'negative prefix', input: '10.0.0.0/-1' },
    { name: 'bad address', input: '10.0.0.300/24' },
    { name: 'empty', input: '' },
  ];
  it.each(bad)('rejects $name', ({ input }) => {
    expect(() => parseCidr(input, 'service-cluster-ip-range')).toThrow(/service-cluster-ip-range: Invalid value.*must be a valid CIDR/);
  });
});

describe('parseCidrList', () => {
  const cases = [
    { name: 'single', input: '10.0.0.0/16', families: ['IPv4'] },
    { name: 'v4,v6', input: '10.0.0.0/16,fd00::/108', families: ['IPv4', 'IPv6'] },
    { name: 'v6,v4 keeps order', input: 'fd00::/108, 10.0.0.0/16', families: ['IPv6', 'IPv4'] },
  ];
  it.each(cases)('$name', ({ input, families }) => {
    expect(parseCidrList(input, 'f').map((b) => b.family)).toEqual(families);
  });
  const bad = [
    { name: 'two of one family', input: '10.0.0.0/16,10.1.0.0/16', message: /one IPv4 and one IPv6/ },
    { name: 'three', input: '10.0.0.0/16,fd00::/108,10.1.0.0/16', message: /at most two/ },
  ];
  it.each(bad)('rejects $name', ({ input, message }) => {
    expect(() => parseCidrList(input, 'f')).toThrow(message);
  });
});

describe('cidrsOverlap', () => {
  const cases = [
    { name: 'disjoint', a: '10.0.0.0/24', b: '10.0.1.0/24', overlap: false },
    { name: 'adjacent', a: '10.0.0.0/25', b: '10.0.0.128/25', overlap: false },
    { name: 'contained', a: '10.0.0.0/16', b: '10.0.5.0/24', overlap: true },
    { name: 'containing', a: '10.0.5.0/24', b: '10.0.0.0/8', overlap: true },
    { name: 'equal', a: '10.0.0.0/24', b: '10.0.0.0/24', overlap: true },
    { name: 'families never overlap', a: '0.0.0.0/0', b: '::/0', overlap: false },
    { name: 'ipv6 contained', a: 'fd00::/64', b: 'fd00::1:0/112', overlap: true },
    { name: 'ipv6 disjoint', a: 'fd00::/64', b: 'fd01::/64', overlap: false },
  ];
  it.each(cases)('$name', ({ a, b, overlap }) => {
    expect(cidrsOverlap(parseCidr(a, 'a'), parseCidr(b, 'b'))).toBe(overlap);
    expect(cidrsOverlap(parseCidr(b, 'b'), parseCidr(a, 'a'))).toBe(overlap);
  });
});

describe('cidrContains', () => {
  const cases = [
    { name: 'first', cidr: '10.0.0.0/24', ip: '10.0.0.0', inside: true },
    { name: 'last', cidr: '10.0.0.0/24', ip: '10.0.0.255', inside: true },
    { name: 'after', cidr: '10.0.0.0/24', ip: '10.0.1.0', inside: false },
    { name: 'other family', cidr: '10.0.0.0/24', ip: '::a00:1', inside: false },
  ];
  it.each(cases)('$name', ({ cidr, ip, inside }) => {
    const a = parseIp(ip, 'ip');
    expect(cidrContains(parseCidr(cidr, 'c'), a.family, a.value)).toBe(inside);
  });
});

describe('isCidr', () => {
  const cases: { name: string; text: string; family?: IpFamily; want: boolean }[] = [
    { name: 'IPv4', text: '10.244.0.0/16', want: true },
    { name: 'host bits set are allowed', text: '10.244.1.7/16', want: true },
    { name: 'IPv6', text: 'fd00::/64', want: true },
    { name: 'IPv6 when IPv4 is asked for', text: 'fd00::/64', family: IpFamily.IPv4, want: false },
    { name: 'IPv4 when IPv4 is asked for', text: '0.0.0.0/0', family: IpFamily.IPv4, want: true },
    { name: 'no prefix', text: '10.0.0.1', want: false },
    { name: 'prefix too long', text: '10.0.0.0/33', want: false },
    { name: 'two slashes', text: '10.0.0.0/8/8', want: false },
    { name: 'garbage', text: 'ten/8', want: false },
  ];
  it.each(cases)('$name', ({ text, family, want }) => expect(isCidr(text, family)).toBe(want));
});

describe('ipInCidr', () => {
  const cases: { name: string; ip: string; cidr: string; want: boolean }[] = [
    { name: 'inside', ip: '10.244.3.4', cidr: '10.244.0.0/16', want: true },
    { name: 'outside', ip: '10.245.0.1', cidr: '10.244.0.0/16', want: false },
    { name: 'host bits in the CIDR', ip: '10.244.3.4', cidr: '10.244.9.9/16', want: true },
    { name: 'bare address is /32', ip: '192.168.1.1', cidr: '192.168.1.1', want: true },
    { name: 'bare address, other ip', ip: '192.168.1.2', cidr: '192.168.1.1', want: false },
    { name: '/0 holds everything', ip: '203.0.113.9', cidr: '0.0.0.0/0', want: true },
    { name: 'top bit set (no sign trouble)', ip: '255.255.255.1', cidr: '255.255.255.0/24', want: true },
    { name: 'IPv6 is outside', ip: 'fd00::1', cidr: 'fd00::/64', want: false },
    { name: 'bad prefix', ip: '10.0.0.1', cidr: '10.0.0.0/40', want: false },
  ];
  it.each(cases)('$name', ({ ip, cidr, want }) => expect(ipInCidr(ip, cidr)).toBe(want));
});
