import { describe, expect, it } from 'vitest';
import { NodePortRange, ServiceIpRange, rangeFullError } from './ranges.js';

describe('ServiceIpRange', () => {
  const cases = [
    { name: 'ipv4 /24: 254 usable, network and broadcast excluded', cidr: '10.0.0.0/24', size: 254n, band: 16n, first: '10.0.0.1', last: '10.0.0.254' },
    { name: 'ipv4 /30: 2 usable', cidr: '192.168.0.0/30', size: 2n, band: 0n, first: '192.168.0.1', last: '192.168.0.2' },
    { name: 'ipv4 /28: static band clamped to the range', cidr: '10.0.0.0/28', size: 14n, band: 14n, first: '10.0.0.1', last: '10.0.0.14' },
    { name: 'ipv4 /12 (Kubernetes default)', cidr: '10.96.0.0/12', size: (1n << 20n) - 2n, band: 256n, first: '10.96.0.1', last: '10.111.255.254' },
    { name: 'ipv6 /120 keeps the last address', cidr: 'fd00::/120', size: 255n, band: 16n, first: 'fd00::1', last: 'fd00::ff' },
    { name: 'ipv6 /64 (huge)', cidr: 'fd00:10:96::/64', size: (1n << 64n) - 1n, band: 256n, first: 'fd00:10:96::1', last: 'fd00:10:96:0:ffff:ffff:ffff:ffff' },
    { name: 'ipv6 /127: one usable', cidr: 'fd00::/127', size: 1n, band: 0n, first: 'fd00::1', last: 'fd00::1' },
  ];
  it.each(cases)('$name', ({ cidr, size, band, first, last }) => {
    const r = ServiceIpRange.parse(cidr);
    expect(r.size).toBe(size);
    expect(r.staticBandSize).toBe(band);
    expect(r.valueAt(0n)).toBe(first);
    expect(r.valueAt(r.size - 1n)).toBe(last);
    expect(r.offsetOf(first, 'ip')).toBe(0n);
    expect(r.offsetOf(last, 'ip')).toBe(r.size - 1n);
  });

  const outside = [
    { name: 'network address', cidr: '10.0.0.0/24', ip: '10.0.0.0' },
    { name: 'broadcast address', cidr: '10.0.0.0/24', ip: '10.0.0.255' },
    { name: 'other subnet', cidr: '10.0.0.0/24', ip: '10.0.1.1' },
    { name: 'other family', cidr: '10.0.0.0/24', ip: 'fd00::1' },
    { name: 'ipv6 subnet-router anycast', cidr: 'fd00::/120', ip: 'fd00::' },
  ];
  it.each(outside)('$name is outside', ({ cidr, ip }) => {
    const r = ServiceIpRange.parse(cidr);
    expect(r.offsetOf(ip, 'requested_ip')).toBeUndefined();
    expect(r.notInRange(ip, 'requested_ip').message).toContain(`The range of valid IPs is ${cidr}`);
  });

  const bad = [
    { name: 'ipv6 shorter than /64', cidr: 'fd00::/48', message: /must be \/64 or longer/ },
    { name: 'ipv4 /31 has no usable address', cidr: '10.0.0.0/31', message: /too small/ },
    { name: 'ipv4 /32', cidr: '10.0.0.1/32', message: /too small/ },
    { name: 'ipv6 /128', cidr: 'fd00::1/128', message: /too small/ },
    { name: 'garbage', cidr: 'ten/8', message: /valid CIDR/ },
  ];
  it.each(bad)('refuses $name', ({ cidr, message }) => {
    expect(() => ServiceIpRange.parse(cidr)).toThrow(message);
  });
});

describe('NodePortRange', () => {
  const cases = [
    { name: 'default', text: '30000-32767', size: 2768n, band: 86n },
    { name: 'single port', text: '30000', size: 1n, band: 0n },
    { name: 'small', text: '30000-30009', size: 10n, band: 0n },
  ];
  it.each(cases)('$name', ({ text, size, band }) => {
    const r = NodePortRange.parse(text);
    expect(r.size).toBe(size);
    expect(r.staticBandSize).toBe(band);
    expect(r.valueAt(0n)).toBe(String(r.firstPort));
    expect(r.offsetOf(String(r.lastPort), 'port')).toBe(size - 1n);
    expect(r.offsetOf(String(r.lastPort + 1), 'port')).toBeUndefined();
  });
  const bad = [
    { name: 'reversed', text: '32767-30000' },
    { name: 'zero', text: '0-100' },
    { name: 'too big', text: '30000-70000' },
    { name: 'words', text: 'all' },
  ];
  it.each(bad)('refuses $name', ({ text }) => {
    expect(() => NodePortRange.parse(text)).toThrow(/service-node-port-range: Invalid value/);
  });
  it('rejects a non-numeric port with the field', () => {
    expect(() => NodePortRange.parse('30000-30010').offsetOf('80a', 'requested_port')).toThrow(/requested_port/);
  });
  it('words the errors like Kubernetes', () => {
    const r = NodePortRange.parse('30000-30010');
    expect(r.notInRange('80', 'requested_port').message).toContain('The range of valid ports is 30000-30010');
    expect(rangeFullError(r).code).toBe('RESOURCE_EXHAUSTED');
    expect(rangeFullError(r).message).toMatch(/^range is full/);
  });
});
