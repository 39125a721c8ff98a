import { describe, expect, it } from 'vitest';
import { dnsArgv } from './components.js';
import { kubeDnsEndpoints, kubeDnsService, resolvConf, tenthAddress } from './dns.js';

describe('cluster DNS settings', () => {
  const ranges = [
    { name: 'the cluster tool range', cidr: '10.96.0.0/16', want: '10.96.0.10' },
    { name: "kubeadm's default /12", cidr: '10.96.0.0/12', want: '10.96.0.10' },
    { name: 'a range given by a host address', cidr: '10.100.7.9/16', want: '10.100.0.10' },
    { name: 'carry into the next octet', cidr: '172.16.0.250/31', want: '172.16.1.4' },
  ];
  it.each(ranges)('10th address: $name', (c) => {
    expect(tenthAddress(c.cidr)).toBe(c.want);
  });

  it("writes kubelet's resolv.conf: nameserver, search list of the pod's namespace, ndots:5", () => {
    const text = resolvConf({ cluster: 'demo', namespace: 'shop', nameserver: '10.96.0.10' });
    expect(text.split('\n').slice(1)).toEqual([
      'nameserver 10.96.0.10',
      'search shop.svc.cluster.local svc.cluster.local cluster.local',
      'options ndots:5',
      '',
    ]);
    expect(text.split('\n')[0]).toContain('svcnet-cluster demo');
  });

  it('kube-dns is selector-less with 53/UDP and 53/TCP, its endpoints the server', () => {
    const svc = kubeDnsService('10.96.0.10');
    expect(svc.spec.selector).toEqual({});
    expect(svc.spec.ports.map((p) => `${p.name} ${p.port}/${p.protocol}`)).toEqual(['dns 53/UDP', 'dns-tcp 53/TCP']);
    const ep = kubeDnsEndpoints('192.168.77.2');
    expect(ep.subsets[0]?.addresses.map((a) => a.ip)).toEqual(['192.168.77.2']);
    expect(ep.subsets[0]?.ports.map((p) => p.name)).toEqual(['dns', 'dns-tcp']);
  });

  it('starts svcnet-dns on port 53 against the local NATS, with its own credentials', () => {
    const argv = dnsArgv('/x/main.cjs', { url: 'nats://127.0.0.1:4222', creds: '/s/auth/svcnet-dns.creds' }, ['--ttl', '1s']);
    expect(argv.slice(1)).toEqual([
      '--max-semi-space-size=2',
      '/x/main.cjs',
      '--listen',
      '0.0.0.0:53',
      '--nats-url',
      'nats://127.0.0.1:4222',
      '--nats-creds',
      '/s/auth/svcnet-dns.creds',
      '--cluster-domain',
      'cluster.local',
      '--metrics-bind-address',
      '0.0.0.0:9153',
      '--ttl',
      '1s',
    ]);
  });
});
