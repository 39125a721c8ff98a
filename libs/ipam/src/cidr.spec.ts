import { describe, expect, it } from 'vitest';
import { cidrContains, cidrsOverlap, parseCidr, parseCidrList } from './cidr.js';
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
