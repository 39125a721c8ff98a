import { describe, expect, it } from 'vitest';
import { parseDnsArgs } from './flags.js';
import { reverseName } from './names.js';

describe('svcnet-dns flags', () => {
  const good: { name: string; argv: string[]; expect: Record<string, unknown> }[] = [
    {
      name: 'defaults',
      argv: [],
      expect: { listen: { host: '0.0.0.0', port: 53 }, clusterDomain: 'cluster.local', ttlSeconds: 5, upstream: [], metricsBindAddress: { host: '127.0.0.1', port: 9153 } },
    },
    { name: 'listen on IPv6', argv: ['--listen', '[::1]:5353'], expect: { listen: { host: '::1', port: 5353 } } },
    { name: 'domain lower-cased, trailing dot dropped', argv: ['--cluster-domain', 'Cluster.Example.'], expect: { clusterDomain: 'cluster.example' } },
    { name: 'ttl in seconds or minutes', argv: ['--ttl', '1m'], expect: { ttlSeconds: 60 } },
    { name: 'bare ttl is seconds', argv: ['--ttl', '30'], expect: { ttlSeconds: 30 } },
    { name: 'ttl as a Go duration', argv: ['--ttl', '1m30s'], expect: { ttlSeconds: 90 } },
    {
      name: 'upstreams with ports and IPv6',
      argv: ['--upstream', '192.168.1.1,10.0.0.2:5353,[fd00::1]:53'],
      expect: { upstream: [{ host: '192.168.1.1', port: 53 }, { host: '10.0.0.2', port: 5353 }, { host: 'fd00::1', port: 53 }] },
    },
    { name: 'metrics disabled', argv: ['--metrics-bind-address', ''], expect: { metricsBindAddress: undefined } },
    { name: 'verbosity', argv: ['-v', '3'], expect: { verbosity: 3 } },
  ];
  it.each(good)('$name', (c) => {
    expect(parseDnsArgs(c.argv)).toMatchObject(c.expect);
  });

  const bad: { name: string; argv: string[]; message: RegExp }[] = [
    { name: 'listen without a port', argv: ['--listen', '0.0.0.0'], message: /listen/ },
    { name: 'listen on a host name', argv: ['--listen', 'localhost:53'], message: /listen/ },
    { name: 'ttl with a fraction', argv: ['--ttl', '1.5s'], message: /ttl/ },
    { name: 'negative ttl', argv: ['--ttl', '-5s'], message: /ttl/ },
    { name: 'ttl in milliseconds', argv: ['--ttl', '1500ms'], message: /ttl/ },
    { name: 'domain with an empty label', argv: ['--cluster-domain', 'a..b'], message: /cluster-domain/ },
    { name: 'upstream not an IP', argv: ['--upstream', 'dns.example'], message: /upstream/ },
    { name: 'unknown flag', argv: ['--nope'], message: /unknown option/ },
  ];
  it.each(bad)('refuses $name', (c) => {
    expect(() => parseDnsArgs(c.argv)).toThrow(c.message);
  });
});

describe('reverse names', () => {
  const cases = [
    { name: 'IPv4', ip: '10.96.0.10', want: '10.0.96.10.in-addr.arpa' },
    { name: 'IPv6 compressed', ip: 'fd00::a', want: `a.${'0.'.repeat(29)}d.f.ip6.arpa` },
    { name: 'IPv6 full', ip: '2001:db8:0:0:0:0:0:1', want: `1.${'0.'.repeat(23)}8.b.d.0.1.0.0.2.ip6.arpa` },
    { name: 'not an address', ip: 'nope', want: undefined },
  ];
  it.each(cases)('$name', (c) => {
    expect(reverseName(c.ip)).toBe(c.want);
  });
});
