import { describe, expect, it } from 'vitest';
import { agentArgv, natsArgv, socketBridgeArgv, stateArgv, svcnetctlArgv } from './components.js';
import { natsUrls, planCluster } from './topology.js';

describe('component command lines', () => {
  const plan = planCluster('clt', 2);
  it('agents reach NATS over the wire and use their node\u2019s wire address', () => {
    const nats = { url: natsUrls(plan.controlPlane.ip, 3), creds: '/s/auth/svcnet-agent-node2.creds' };
    const argv = agentArgv({ bundle: '/b/agent.cjs', plan, node: plan.nodes[1]!, nats, proxyMode: 'iptables', iptables: 'legacy', extra: ['-v', '2'] });
    const flag = (f: string): string | undefined => argv[argv.indexOf(f) + 1];
    expect(argv[1]).toBe('/b/agent.cjs');
    expect(flag('--nats-url')).toBe('nats://192.168.77.2:4222,nats://192.168.77.2:4223,nats://192.168.77.2:4224');
    expect(flag('--nats-creds')).toBe('/s/auth/svcnet-agent-node2.creds');
    expect(flag('--node-name')).toBe('node2');
    expect(flag('--node-ip')).toBe('192.168.77.12');
    expect(flag('--iptables-backend')).toBe('legacy');
    expect(flag('--cluster-cidr')).toBe('10.244.0.0/16');
    expect(argv.slice(-2)).toEqual(['-v', '2']);
  });
  it('the state service talks to the allocator and NATS on loopback inside the control plane', () => {
    const argv = stateArgv({ bundle: '/b/state.cjs', nats: { url: natsUrls('127.0.0.1', 1) }, kvReplicas: 1, replica: 1 });
    expect(argv[argv.indexOf('--allocator-url') + 1]).toBe('127.0.0.1:9001');
    expect(argv[argv.indexOf('--nats-url') + 1]).toBe('nats://127.0.0.1:4222');
    expect(argv[argv.indexOf('--listen') + 1]).toBe('0.0.0.0:9010');
    expect(argv).not.toContain('--nats-creds');
    expect(argv).toContain('--plaintext');
    expect(argv).toContain('--allocator-plaintext');
    const tls = { caFile: '/p/ca.crt', certFile: '/p/state.crt', keyFile: '/p/state.key' };
    const secure = stateArgv({ bundle: '/b/state.cjs', nats: { url: 'nats://127.0.0.1:4222', ca: '/p/ca.crt' }, kvReplicas: 3, tls, allocatorClient: tls });
    const flag = (f: string): string | undefined => secure[secure.indexOf(f) + 1];
    expect([flag('--tls-cert-file'), flag('--client-ca-file'), flag('--allocator-ca-file'), flag('--nats-ca')]).toEqual(['/p/state.crt', '/p/ca.crt', '/p/ca.crt', '/p/ca.crt']);
    expect(secure).not.toContain('--plaintext');
  });
  it('NATS servers of a cluster route to each other and load the auth configuration', () => {
    const argv = natsArgv({ storeDir: '/s/nats/1', index: 1, size: 3, clusterName: 'clt', configFile: '/s/auth/server.conf' });
    const flag = (f: string): string | undefined => argv[argv.indexOf(f) + 1];
    expect(flag('-p')).toBe('4223');
    expect(flag('--cluster')).toBe('nats://127.0.0.1:6223');
    expect(flag('--routes')).toBe('nats-route://127.0.0.1:6222,nats-route://127.0.0.1:6223,nats-route://127.0.0.1:6224');
    expect(flag('-c')).toBe('/s/auth/server.conf');
    expect(natsArgv({ storeDir: '/s/nats/0', index: 0, size: 1, clusterName: 'clt' })).not.toContain('--cluster');
  });
  it('svcnetctl gets --server before the user\u2019s arguments', () => {
    expect(svcnetctlArgv('/b/ctl.cjs', ['get', 'services'], '/s/pki/config').slice(1)).toEqual(['/b/ctl.cjs', '--svcnetconfig', '/s/pki/config', 'get', 'services']);
    expect(svcnetctlArgv('/b/ctl.cjs', ['get', 'services']).slice(1)).toEqual(['/b/ctl.cjs', '--server', 'http://127.0.0.1:9000', 'get', 'services']);
  });
  it('the socket bridge relays a Unix socket to a loopback port', () => {
    expect(socketBridgeArgv('/tmp/x/state.sock', 9000)).toEqual(['socat', 'UNIX-LISTEN:/tmp/x/state.sock,fork,unlink-early,mode=600', 'TCP:127.0.0.1:9000']);
  });
});
