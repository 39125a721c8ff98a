import { describe, expect, it } from 'vitest';
import { configFromFlags, type AllocatorFlags } from './config.js';

const base: AllocatorFlags = {
  listen: '127.0.0.1:9401',
  natsUrl: 'nats://127.0.0.1:4222',
  serviceClusterIpRange: '10.96.0.0/12',
  serviceNodePortRange: '30000-32767',
  v: '0',
  storeTimeout: '5000',
  plaintext: true,
  kvReplicas: '1',
  metricsBindAddress: '127.0.0.1:9411',
};

describe('configFromFlags', () => {
  const ok = [
    { name: 'defaults', flags: {}, ranges: ['10.96.0.0/12'] },
    { name: 'dual stack', flags: { serviceClusterIpRange: '10.96.0.0/16,fd00:10:96::/108' }, ranges: ['10.96.0.0/16', 'fd00:10:96::/108'] },
    { name: 'disjoint pod network', flags: { podNetworkCidr: '10.244.0.0/16' }, ranges: ['10.96.0.0/12'] },
    { name: 'ipv6 listen', flags: { listen: '[::1]:9401' }, ranges: ['10.96.0.0/12'] },
  ];
  it.each(ok)('$name', ({ flags, ranges }) => {
    expect(configFromFlags({ ...base, ...flags }).serviceIpRanges.map((r) => r.text)).toEqual(ranges);
  });

  const bad = [
    { name: 'pod network inside the service range', flags: { podNetworkCidr: '10.100.0.0/16' }, message: /^pod-network-cidr: the service range 10\.96\.0\.0\/12 overlaps/ },
    { name: 'pod network around the service range', flags: { podNetworkCidr: '10.0.0.0/8' }, message: /overlaps the pod network 10\.0\.0\.0\/8/ },
    { name: 'dual-stack pod overlap on v6', flags: { serviceClusterIpRange: '10.96.0.0/16,fd00::/108', podNetworkCidr: '10.244.0.0/16,fd00::/64' }, message: /fd00::\/108 overlaps/ },
    { name: 'bad listen', flags: { listen: '9401' }, message: /^listen: / },
    { name: 'bad verbosity', flags: { v: 'x' }, message: /^v: / },
    { name: 'bad store timeout', flags: { storeTimeout: '0' }, message: /^store-timeout-ms: / },
    { name: 'bad node ports', flags: { serviceNodePortRange: '1-70000' }, message: /^service-node-port-range: / },
    { name: 'metrics address without a port', flags: { metricsBindAddress: 'localhost' }, message: /^metrics-bind-address: .*expected <ip>:<port>/ },
  ];
  it('parses the metrics address, and an empty one disables the listener', () => {
    expect(configFromFlags(base).metricsBindAddress).toEqual({ host: '127.0.0.1', port: 9411 });
    expect(configFromFlags({ ...base, metricsBindAddress: '' }).metricsBindAddress).toBeUndefined();
  });

  it.each(bad)('refuses $name', ({ flags, message }) => {
    expect(() => configFromFlags({ ...base, ...flags })).toThrow(message);
  });
});
