import { type ServicePortInfo } from '@svcnet/proxy-core';
import { buildServicePort } from '@svcnet/proxy-core/testing';
import { describe, expect, it } from 'vitest';
import { endpointChainName, invalidReason, quoteComment, serviceChainNames } from './names.js';

const base: ServicePortInfo = buildServicePort({ namespace: 'ns1', name: 'svc1', portName: 'p80', clusterIP: '172.30.0.41', port: 80 });

describe('chain names', () => {
  it("match kube-proxy's (values from kube-proxy's proxier_test.go)", () => {
    const n = serviceChainNames(base);
    expect(n.svc).toBe('KUBE-SVC-XPGD46QRK7WJZT7O');
    expect(n.ext).toBe('KUBE-EXT-XPGD46QRK7WJZT7O');
    expect(endpointChainName(n.portName, 'TCP', '10.180.0.1:80')).toBe('KUBE-SEP-SXIVWICOYRO3J4NJ');
  });

  it('differ by protocol and by unnamed port', () => {
    const tcp = serviceChainNames({ ...base, portName: '' });
    const udp = serviceChainNames({ ...base, portName: '', protocol: 'UDP' });
    expect(tcp.portName).toBe('ns1/svc1');
    expect(tcp.svc).not.toBe(udp.svc);
    expect(tcp.svc).toMatch(/^KUBE-SVC-[A-Z2-7]{16}$/);
  });
});

describe('invalidReason', () => {
  it.each([
    { name: 'valid', patch: {}, reason: undefined },
    { name: 'quote in name', patch: { name: 'a" -j ACCEPT' }, reason: 'name is not a DNS label' },
    { name: 'newline in namespace', patch: { namespace: 'ns\n-A INPUT -j DROP' }, reason: 'namespace is not a DNS label' },
    { name: 'option in port name', patch: { portName: '--dport' }, reason: 'port name is not a DNS label' },
    { name: 'crafted cluster IP', patch: { clusterIP: '10.0.0.1 -j ACCEPT' }, reason: 'cluster IP is not an IPv4 address' },
    { name: 'IPv6 cluster IP', patch: { clusterIP: 'fd00::1' }, reason: 'cluster IP is not an IPv4 address' },
    { name: 'CIDR as cluster IP', patch: { clusterIP: '10.0.0.0/8' }, reason: 'cluster IP is not an IPv4 address' },
    { name: 'crafted external IP', patch: { externalIPs: ['1.2.3.4/0'] }, reason: 'external IP is not an IPv4 address' },
    { name: 'port 0', patch: { port: 0 }, reason: 'port out of range' },
    { name: 'fractional node port', patch: { nodePort: 30000.5 }, reason: 'node port out of range' },
    { name: 'bad protocol', patch: { protocol: 'ICMP' }, reason: 'unsupported protocol' },
    { name: 'bad affinity timeout', patch: { sessionAffinity: { kind: 'ClientIP', timeoutSeconds: -1 } }, reason: 'affinity timeout out of range' },
  ])('$name', ({ patch, reason }) => {
    expect(invalidReason({ ...base, ...patch } as ServicePortInfo)).toBe(reason);
  });
});

describe('quoteComment', () => {
  it.each(['a"b', 'a\nb', 'a\\b', 'x$(id)'])('refuses %j', (text) => {
    expect(() => quoteComment(text)).toThrow(/unsafe rule comment/);
  });
  it('quotes a normal comment', () => {
    expect(quoteComment('ns/svc:http cluster IP')).toBe('"ns/svc:http cluster IP"');
  });
});
