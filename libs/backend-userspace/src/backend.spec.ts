import { FakeNetExec } from '@svcnet/netexec';
import type { EndpointInfo, NodeConfig, ProxyState, ServicePortInfo } from '@svcnet/proxy-core';
import { BackendApplyError } from '@svcnet/proxy-core';
import { buildServicePort } from '@svcnet/proxy-core/testing';
import { connect, createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { UserspaceBackend } from './backend.js';
import { PORTAL_JUMPS } from './portal-rules.js';

const config: NodeConfig = { nodeName: 'n1', nodeIPs: ['10.0.0.1'], clusterCIDR: '10.244.0.0/16', masqueradeAll: false, nodePortAddresses: [] };
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function svc(id: string, over: Partial<ServicePortInfo> = {}): ServicePortInfo {
  const [namespace, rest] = id.split('/') as [string, string];
  const [name, portName] = rest.split(':') as [string, string];
  return buildServicePort({ namespace, name, portName, clusterIP: '10.96.0.10', port: 80, ...over });
}
function eps(...ports: number[]): EndpointInfo[] {
  return ports.map((port) => ({ ip: '127.0.0.1', port, nodeName: 'n1', isLocal: true, ready: true, serving: true, terminating: false }));
}
function state(entries: Array<[ServicePortInfo, EndpointInfo[]]>): ProxyState {
  return { services: new Map(entries.map(([s]) => [s.id, s])), endpoints: new Map(entries.map(([s, e]) => [s.id, e])) };
}

async function named(name: string): Promise<number> {
  const server: Server = createServer((s) => s.once('data', () => s.end(name)));
  cleanups.push(() => void server.close());
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r((server.address() as { port: number }).port)));
}
function get(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.write('GET'));
    let out = '';
    s.on('data', (d) => (out += String(d)));
    s.on('error', reject);
    s.on('close', () => resolve(out));
  });
}

function makeBackend(fake = new FakeNetExec(), proxyPortRange?: string) {
  const backend = new UserspaceBackend({ exec: fake, bindAddress: '127.0.0.1', ...(proxyPortRange ? { proxyPortRange } : {}) });
  cleanups.push(() => backend.cleanup());
  return { backend, fake };
}
const sync = async (b: UserspaceBackend, s: ProxyState, full = false) => {
  const plan = b.render({ state: s, config, full, changed: new Set(), lastApplied: undefined });
  return { plan, result: await b.apply(plan) };
};

describe('UserspaceBackend', () => {
  it('first apply: reads nat once, opens a socket, one restore with chains + jumps + rules', async () => {
    const { backend, fake } = makeBackend();
    const a = await named('a');
    const { result } = await sync(backend, state([[svc('default/web:http', { nodePort: 30080 }), eps(a)]]));
    expect(result.calls).toBe(2);
    expect(fake.calls.map((c) => c.file)).toEqual(['iptables-save', 'iptables-restore']);
    const restore = String(fake.callsTo('iptables-restore')[0]!.input);
    const port = backend.proxyPorts().get('default/web:http')!;
    expect(fake.callsTo('iptables-restore')[0]!.args).toEqual(['--noflush']);
    for (const j of PORTAL_JUMPS) expect(restore).toContain(j.line.replace('-A ', '-I '));
    // bound to a specific address, so pods are DNATed to it rather than REDIRECTed
    expect(restore).toContain(`-A KUBE-PORTALS-CONTAINER -d 10.96.0.10/32 -p tcp -m comment --comment "default/web:http cluster IP" -m tcp --dport 80 -j DNAT --to-destination 127.0.0.1:${port}`);
    expect(restore).toContain(`-A KUBE-NODEPORT-HOST -p tcp -m comment --comment "default/web:http node port" -m tcp --dport 30080 -j DNAT --to-destination 127.0.0.1:${port}`);
    expect(await get(port)).toBe('a');
  });

  it('unchanged resync makes no kernel call; endpoint change keeps the port and applies to new connections', async () => {
    const { backend, fake } = makeBackend();
    const [a, b] = [await named('a'), await named('b')];
    const web = svc('default/web:http');
    await sync(backend, state([[web, eps(a)]]));
    const port = backend.proxyPorts().get(web.id)!;
    const before = fake.calls.length;
    expect((await sync(backend, state([[web, eps(a)]]))).result.calls).toBe(0);
    await sync(backend, state([[web, eps(b)]]));
    expect(fake.calls.length).toBe(before);
    expect(backend.proxyPorts().get(web.id)).toBe(port);
    expect(await get(port)).toBe('b');
  });

  it('jumps already present are not inserted again on a full sync', async () => {
    const save = ['*nat', ...PORTAL_JUMPS.filter((j) => j.table === 'nat').map((j) => j.line), 'COMMIT', '*filter', ...PORTAL_JUMPS.filter((j) => j.table === 'filter').map((j) => j.line), 'COMMIT'].join('\n');
    const { backend, fake } = makeBackend(new FakeNetExec().on({ file: 'iptables-save', result: { stdout: save } }));
    await sync(backend, state([]), true);
    expect(String(fake.callsTo('iptables-restore')[0]!.input)).not.toContain('-I ');
  });

  it('a deleted service closes its listener and drops its rules', async () => {
    const { backend, fake } = makeBackend();
    const a = await named('a');
    await sync(backend, state([[svc('default/web:http'), eps(a)]]));
    const port = backend.proxyPorts().get('default/web:http')!;
    await sync(backend, state([]));
    expect(backend.proxyPorts().size).toBe(0);
    const last = String(fake.callsTo('iptables-restore').at(-1)!.input);
    expect(last).not.toContain('-A KUBE-');
    await expect(get(port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('takes ports from --proxy-port-range, skipping ones in use', async () => {
    const blocker = createServer();
    const busy = await new Promise<number>((r) => blocker.listen(0, '127.0.0.1', () => r((blocker.address() as { port: number }).port)));
    cleanups.push(() => void blocker.close());
    const { backend } = makeBackend(new FakeNetExec(), `${busy}-${busy + 1}`);
    await sync(backend, state([[svc('default/web:http'), []]]));
    expect(backend.proxyPorts().get('default/web:http')).toBe(busy + 1);
    const err = await sync(backend, state([[svc('default/web:http'), []], [svc('default/api:', { clusterIP: '10.96.0.11' }), []]])).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendApplyError);
    expect(String((err as Error).message)).toMatch(/default\/api:.*no free proxy port/);
  });

  it('a failed restore is a BackendApplyError and the next apply retries the rules', async () => {
    const fake = new FakeNetExec().on({ file: 'iptables-restore', fail: { exitCode: 1, stderr: 'line 2 failed' } });
    const { backend } = makeBackend(fake);
    await expect(sync(backend, state([[svc('default/web:http'), []]]))).rejects.toBeInstanceOf(BackendApplyError);
    fake.on({ file: 'iptables-restore', result: {} });
    expect((await sync(backend, state([[svc('default/web:http'), []]]))).result.calls).toBe(2);
  });

  it('detectDrift compares kernel rules and sockets with the last plan', async () => {
    const fake = new FakeNetExec();
    const { backend } = makeBackend(fake);
    const { plan } = await sync(backend, state([[svc('default/web:http'), []]]));
    // What the kernel would print back: the restore input with inserts shown as appends.
    const asSaved = String(fake.callsTo('iptables-restore')[0]!.input)
      .split('\n')
      .filter((l) => !l.startsWith(':'))
      .map((l) => l.replace(/^-I /, '-A '));
    fake.on({ file: 'iptables-save', result: { stdout: asSaved.join('\n') } });
    expect(await backend.detectDrift(plan)).toBe(false);
    const lastRule = asSaved.findLastIndex((l) => l.startsWith('-A KUBE-PORTALS-REJECT'));
    fake.on({ file: 'iptables-save', result: { stdout: asSaved.filter((_, i) => i !== lastRule).join('\n') } });
    expect(await backend.detectDrift(plan)).toBe(true);
  });

  it('cleanup closes sockets and removes only existing chains and jumps', async () => {
    const save = ['*nat', ':KUBE-PORTALS-HOST - [0:0]', PORTAL_JUMPS[2]!.line, 'COMMIT'].join('\n');
    const fake = new FakeNetExec().on({ file: 'iptables-save', result: { stdout: save } });
    const { backend } = makeBackend(fake);
    await sync(backend, state([[svc('default/web:http'), []]]));
    const port = backend.proxyPorts().get('default/web:http')!;
    await backend.cleanup();
    expect(String(fake.callsTo('iptables-restore').at(-1)!.input).split('\n')).toEqual([
      '*nat',
      ':KUBE-PORTALS-HOST - [0:0]',
      `-D ${PORTAL_JUMPS[2]!.line.slice(3)}`,
      '-X KUBE-PORTALS-HOST',
      'COMMIT',
      '',
    ]);
    await expect(get(port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('readKernelState lists owned chains, jumps, rules and the live sockets', async () => {
    const save = ['*nat', ':KUBE-PORTALS-HOST - [0:0]', ':KUBE-SERVICES - [0:0]', PORTAL_JUMPS[2]!.line, '-A KUBE-SERVICES -j RETURN', '-A KUBE-PORTALS-HOST -j ACCEPT', 'COMMIT'].join('\n');
    const { backend } = makeBackend(new FakeNetExec().on({ file: 'iptables-save', result: { stdout: save } }));
    await sync(backend, state([[svc('default/web:http'), eps(8080)]]));
    const port = backend.proxyPorts().get('default/web:http')!;
    expect((await backend.readKernelState()).split('\n')).toEqual([
      '# chain nat:KUBE-PORTALS-HOST',
      `nat ${PORTAL_JUMPS[2]!.line}`,
      'nat -A KUBE-PORTALS-HOST -j ACCEPT',
      `# socket default/web:http TCP 127.0.0.1:${port} listening active=0`,
      '',
    ]);
  });

  it('describe shows sockets, endpoints and rules', async () => {
    const { backend } = makeBackend();
    const { plan } = await sync(backend, state([[svc('default/web:http', { sessionAffinity: { kind: 'ClientIP', timeoutSeconds: 30 } }), eps(8080)], [svc('default/s:', { protocol: 'SCTP' }), []]]));
    const text = backend.describe(plan);
    expect(text).toMatch(/# proxy default\/web:http TCP port=\d+ -> 127\.0\.0\.1:8080 affinity=ClientIP\/30s/);
    expect(text).toContain('# skipped default/s:: protocol SCTP');
    expect(text).toContain(':KUBE-PORTALS-CONTAINER - [0:0]');
  });
});
