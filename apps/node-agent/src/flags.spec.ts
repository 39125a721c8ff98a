import { describe, expect, it } from 'vitest';
import { parseAgentArgs, parseBindAddress, type AgentOptions } from './flags.js';

const detect = () => ['192.168.7.2'];

describe('parseAgentArgs: kube-proxy flags', () => {
  it('applies kube-proxy defaults', () => {
    const o = parseAgentArgs(['--node-name', 'node1'], detect, {});
    expect(o).toMatchObject<Partial<AgentOptions>>({
      nats: { url: 'nats://127.0.0.1:4222' },
      nodeName: 'node1',
      nodeIPs: ['192.168.7.2'],
      proxyMode: 'iptables',
      iptablesBackend: 'auto',
      clusterCIDR: '',
      masqueradeAll: false,
      nodePortAddresses: [],
      localhostNodePorts: true,
      serviceCIDRs: [],
      syncPeriodMs: 30_000,
      minSyncPeriodMs: 100,
      nodeStatusIntervalMs: 10_000,
      healthzBindAddress: { host: '0.0.0.0', port: 10256 },
      metricsBindAddress: { host: '127.0.0.1', port: 10249 },
      cleanup: false,
      dumpRules: false,
      ipvsScheduler: 'rr',
      ipvsStrictArp: false,
      proxyPortRange: '',
      verbosity: 0,
    });
  });

  const cases: { name: string; argv: string[]; expected: Partial<AgentOptions> }[] = [
    { name: 'nats url list', argv: ['--nats-url', 'nats://a:1,nats://b:2'], expected: { nats: { url: 'nats://a:1,nats://b:2' } } },
    { name: 'nats credentials', argv: ['--nats-creds', '/etc/svcnet/agent.creds'], expected: { nats: { url: 'nats://127.0.0.1:4222', credsFile: '/etc/svcnet/agent.creds' } } },
    { name: 'node ip list', argv: ['--node-ip', '10.0.0.1, 10.0.0.2'], expected: { nodeIPs: ['10.0.0.1', '10.0.0.2'] } },
    { name: 'ipv6 node ip', argv: ['--node-ip', 'fd00::1'], expected: { nodeIPs: ['fd00::1'] } },
    { name: 'proxy mode ipvs', argv: ['--proxy-mode', 'ipvs'], expected: { proxyMode: 'ipvs' } },
    { name: 'iptables backend forced', argv: ['--iptables-backend', 'legacy'], expected: { iptablesBackend: 'legacy' } },
    { name: 'cluster cidr', argv: ['--cluster-cidr', '10.244.0.0/16'], expected: { clusterCIDR: '10.244.0.0/16' } },
    { name: 'masquerade all', argv: ['--masquerade-all'], expected: { masqueradeAll: true } },
    { name: 'nodeport addresses', argv: ['--nodeport-addresses', '10.0.0.0/8,192.168.0.0/16'], expected: { nodePortAddresses: ['10.0.0.0/8', '192.168.0.0/16'] } },
    { name: 'localhost node ports off', argv: ['--iptables-localhost-nodeports', 'false'], expected: { localhostNodePorts: false } },
    { name: 'service CIDRs', argv: ['--service-cluster-ip-range', '10.96.0.0/12,fd00:10:96::/108'], expected: { serviceCIDRs: ['10.96.0.0/12', 'fd00:10:96::/108'] } },
    { name: 'go durations', argv: ['--sync-period', '1m30s', '--min-sync-period', '50ms'], expected: { syncPeriodMs: 90_000, minSyncPeriodMs: 50 } },
    { name: 'min sync period zero', argv: ['--min-sync-period', '0'], expected: { minSyncPeriodMs: 0 } },
    { name: 'healthz disabled', argv: ['--healthz-bind-address', ''], expected: { healthzBindAddress: undefined } },
    { name: 'metrics on v6 loopback', argv: ['--metrics-bind-address', '[::1]:9000'], expected: { metricsBindAddress: { host: '::1', port: 9000 } } },
    { name: 'cleanup', argv: ['--cleanup'], expected: { cleanup: true } },
    { name: 'dump rules', argv: ['--dump-rules'], expected: { dumpRules: true } },
    { name: 'ipvs scheduler', argv: ['--ipvs-scheduler', 'lc'], expected: { ipvsScheduler: 'lc' } },
    { name: 'ipvs strict ARP', argv: ['--ipvs-strict-arp'], expected: { ipvsStrictArp: true } },
    { name: 'proxy port range', argv: ['--proxy-port-range', '30000-30100'], expected: { proxyPortRange: '30000-30100' } },
    { name: 'verbosity short', argv: ['-v', '4'], expected: { verbosity: 4 } },
    { name: 'verbosity long', argv: ['--v=2'], expected: { verbosity: 2 } },
    { name: 'node status interval', argv: ['--node-status-interval', '1s'], expected: { nodeStatusIntervalMs: 1_000 } },
    { name: 'a fully qualified node name', argv: ['--node-name', 'node-1.rack-2.example.com'], expected: { nodeName: 'node-1.rack-2.example.com' } },
  ];
  it.each(cases)('$name', ({ argv, expected }) => {
    expect(parseAgentArgs(['--node-name', 'n1', ...argv], detect)).toMatchObject(expected);
  });

  const bad: { name: string; argv: string[]; message: RegExp }[] = [
    { name: 'unknown mode', argv: ['--proxy-mode', 'ebpf'], message: /proxy-mode/ },
    { name: 'unknown iptables backend', argv: ['--iptables-backend', 'xtables'], message: /iptables-backend/ },
    { name: 'bad duration', argv: ['--sync-period', '30'], message: /sync-period/ },
    { name: 'zero sync period', argv: ['--sync-period', '0'], message: /sync-period/ },
    { name: 'min above max', argv: ['--sync-period', '1s', '--min-sync-period', '2s'], message: /min-sync-period/ },
    { name: 'negative duration', argv: ['--min-sync-period=-1s'], message: /min-sync-period/ },
    { name: 'bad node ip', argv: ['--node-ip', '10.0.0.300'], message: /node-ip/ },
    { name: 'bad cluster cidr', argv: ['--cluster-cidr', '10.244.0.0'], message: /cluster-cidr/ },
    { name: 'bad nodeport cidr', argv: ['--nodeport-addresses', '10.0.0.0/33'], message: /nodeport-addresses/ },
    { name: 'bad service CIDR', argv: ['--service-cluster-ip-range', '10.96.0.0'], message: /service-cluster-ip-range/ },
    { name: 'localhost node ports not a boolean', argv: ['--iptables-localhost-nodeports', 'yes'], message: /iptables-localhost-nodeports/ },
    { name: 'bad bind address', argv: ['--healthz-bind-address', 'localhost:10256'], message: /healthz-bind-address/ },
    { name: 'bad port range', argv: ['--proxy-port-range', '30000'], message: /proxy-port-range/ },
    { name: 'bad verbosity', argv: ['-v', 'x'], message: /must be a non-negative integer/ },
    { name: 'unknown flag', argv: ['--bind-address', 'x'], message: /unknown option/ },
    { name: 'stray argument', argv: ['extra'], message: /too many arguments|excess/i },
    { name: 'node name that is no RFC 1123 subdomain', argv: ['--node-name', 'Node_1'], message: /node-name/ },
    { name: 'node status interval too short', argv: ['--node-status-interval', '10ms'], message: /node-status-interval/ },
  ];
  it.each(bad)('rejects $name with INVALID_ARGUMENT', ({ argv, message }) => {
    let caught: unknown;
    try {
      parseAgentArgs(['--node-name', 'n1', ...argv], detect);
    } catch (err) {
      caught = err;
    }
    expect(caught).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect((caught as Error).message).toMatch(message);
  });
});

describe('parseAgentArgs: per-host environment', () => {
  const env = { SVCNET_NODE_NAME: 'node-7', SVCNET_NODE_IP: '10.1.0.7', NATS_URL: 'tls://cp:4222', NATS_CREDS: '/etc/svcnet/agent.creds' };

  it('takes the node name, node IP and NATS settings from the environment', () => {
    expect(parseAgentArgs([], detect, env)).toMatchObject<Partial<AgentOptions>>({
      nodeName: 'node-7',
      nodeIPs: ['10.1.0.7'],
      nats: { url: 'tls://cp:4222', credsFile: '/etc/svcnet/agent.creds' },
    });
  });

  it('lets flags override the environment, --hostname-override included', () => {
    expect(parseAgentArgs(['--node-name', 'a', '--node-ip', '10.1.0.8'], detect, env)).toMatchObject({ nodeName: 'a', nodeIPs: ['10.1.0.8'] });
    expect(parseAgentArgs(['--hostname-override', 'b'], detect, env)).toMatchObject({ nodeName: 'b' });
  });

  it('checks an address from the environment like the flag', () => {
    expect(() => parseAgentArgs([], detect, { SVCNET_NODE_IP: 'not-an-ip' })).toThrow(/node-ip/);
  });
});

describe('parseBindAddress', () => {
  const cases = [
    { name: 'v4', text: '0.0.0.0:10256', expected: { host: '0.0.0.0', port: 10256 } },
    { name: 'port only', text: ':8080', expected: { host: '0.0.0.0', port: 8080 } },
    { name: 'v6', text: '[::]:10256', expected: { host: '::', port: 10256 } },
    { name: 'empty disables', text: '', expected: undefined },
  ];
  it.each(cases)('$name', ({ text, expected }) => {
    expect(parseBindAddress(text, 'f')).toEqual(expected);
  });
  it.each(['1.2.3.4', '1.2.3.4:70000', 'host:1'])('rejects %s', (text) => {
    expect(() => parseBindAddress(text, 'f')).toThrow(/f:/);
  });
});
