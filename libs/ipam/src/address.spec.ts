import { describe, expect, it } from 'vitest';
import { SvcnetError } from '@svcnet/model';
import { formatIp, parseIp } from './address.js';

describe('parseIp + formatIp', () => {
  const good = [
    { name: 'ipv4', input: '10.96.0.1', family: 'IPv4', canonical: '10.96.0.1' },
    { name: 'ipv4 zero', input: '0.0.0.0', family: 'IPv4', canonical: '0.0.0.0' },
    { name: 'ipv4 max', input: '255.255.255.255', family: 'IPv4', canonical: '255.255.255.255' },
    { name: 'ipv6 compressed', input: 'fd00::1', family: 'IPv6', canonical: 'fd00::1' },
    { name: 'ipv6 expanded is compressed', input: 'fd00:0:0:0:0:0:0:1', family: 'IPv6', canonical: 'fd00::1' },
    { name: 'ipv6 upper case is lowered', input: 'FD00:0:0:0:0:0:0:AB', family: 'IPv6', canonical: 'fd00::ab' },
    { name: 'ipv6 longest zero run wins', input: '2001:db8:0:0:1:0:0:0', family: 'IPv6', canonical: '2001:db8:0:0:1::' },
    { name: 'ipv6 first run wins a tie', input: '2001:0:0:1:0:0:1:1', family: 'IPv6', canonical: '2001::1:0:0:1:1' },
    { name: 'ipv6 single zero group is not compressed', input: '2001:db8:0:1:1:1:1:1', family: 'IPv6', canonical: '2001:db8:0:1:1:1:1:1' },
    { name: 'ipv6 all zero', input: '::', family: 'IPv6', canonical: '::' },
    { name: 'ipv6 loopback', input: '::1', family: 'IPv6', canonical: '::1' },
  ];
  it.each(good)('$name', ({ input, family, canonical }) => {
    const parsed = parseIp(input, 'requested_ip');
    expect(parsed.family).toBe(family);
    expect(formatIp(parsed)).toBe(canonical);
    expect(parseIp(canonical, 'x').value).toBe(parsed.value);
  });

  const bad = [
    { name: 'empty', input: '' },
    { name: 'text', input: 'not-an-ip' },
    { name: 'octet too large', input: '10.0.0.256' },
    { name: 'three octets', input: '10.0.0' },
    { name: 'leading zero octet', input: '010.0.0.1' },
    { name: 'cidr is not an ip', input: '10.0.0.0/24' },
    { name: 'surrounding space', input: ' 10.0.0.1' },
    { name: 'two double colons', input: 'fd00::1::2' },
    { name: 'bad hex', input: 'fd00::g' },
    { name: 'ipv4-mapped ipv6', input: '::ffff:1.2.3.4' },
    { name: 'zone', input: 'fe80::1%eth0' },
    { name: 'nine groups', input: '1:2:3:4:5:6:7:8:9' },
  ];
  it.each(bad)('rejects $name with the field and an example', ({ input }) => {
    let err: unknown;
    try {
      parseIp(input, 'requested_ip');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SvcnetError);
    expect((err as SvcnetError).code).toBe('INVALID_ARGUMENT');
    expect((err as SvcnetError).field).toBe('requested_ip');
    expect((err as SvcnetError).message).toContain('must be a valid IP address');
  });
});
