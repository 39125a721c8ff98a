import { describe, expect, it } from 'vitest';
import { agentArgv, socketBridgeArgv, stateArgv, svcnetctlArgv } from './components.js';
import { planCluster } from './topology.js';

describe('component command lines', () => {
  const plan = planCluster('clt', 2);
  it('agents reach NATS over the wire and use their node\u2019s wire address', () => {
    const argv = agentArgv({ bundle: '/b/agent.cjs', plan, node: plan.nodes[1]!, proxyMode: 'iptables', iptables: 'legacy', extra: ['-v', '2'] });
    const flag = (f: string): string | undefined => argv[argv.indexOf(f) + 1];
    expect(argv[1]).toBe('/b/agent.cjs');
    expect(flag('--nats-url')).toBe('nats://192.168.77.2:4222');
    expect(flag('--node-name')).toBe('node2');
    expect(flag('--node-ip')).toBe('192.168.77.12');
    expect(flag('--iptables-backend')).toBe('legacy');
    expect(flag('--cluster-cidr')).toBe('10.244.0.0/16');
    expect(argv.slice(-2)).toEqual(['-v', '2']);
  });
  it('the state service talks to the allocator and NATS on loopback inside the control plane', () => {
    const argv = stateArgv('/b/state.cjs');
    expect(argv[argv.indexOf('--allocator-url') + 1]).toBe('127.0.0.1:9001');
    expect(argv[argv.indexOf('--nats-url') + 1]).toBe('nats://127.0.0.1:4222');
  });
  it('svcnetctl gets --server before the user\u2019s arguments', () => {
    expect(svcnetctlArgv('/b/ctl.cjs', ['get', 'services']).slice(1)).toEqual(['/b/ctl.cjs', '--server', '127.0.0.1:9000', 'get', 'services']);
  });
  it('the socket bridge relays a Unix socket to a loopback port', () => {
    expect(socketBridgeArgv('/tmp/x/state.sock', 9000)).toEqual(['socat', 'UNIX-LISTEN:/tmp/x/state.sock,fork,unlink-early,mode=600', 'TCP:127.0.0.1:9000']);
  });
});
