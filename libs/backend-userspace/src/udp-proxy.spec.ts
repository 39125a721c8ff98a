import { createSocket, type Socket } from 'node:dgram';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { RoundRobinBalancer, type Endpoint } from './balancer.js';
import { ProxyMetrics } from './metrics.js';
import { UdpProxySocket } from './udp-proxy.js';

const logger = pino({ level: 'silent' });
const ID = 'kube-system/dns:dns';
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function bind(sock: Socket): Promise<number> {
  return new Promise((resolve) => sock.bind(0, '127.0.0.1', () => resolve(sock.address().port)));
}

/** A UDP echo server that prefixes replies with its name. */
async function namedEcho(name: string): Promise<Endpoint> {
  const s = createSocket('udp4');
  s.on('message', (m, r) => s.send(`${name}:${String(m)}`, r.port, r.address));
  cleanups.push(() => new Promise<void>((r) => s.close(() => r())));
  return { host: '127.0.0.1', port: await bind(s) };
}

async function deadUdpPort(): Promise<Endpoint> {
  const s = createSocket('udp4');
  const port = await bind(s);
  await new Promise<void>((r) => s.close(() => r()));
  return { host: '127.0.0.1', port };
}

async function startProxy(endpoints: Endpoint[], idleTimeoutMs = 200) {
  const balancer = new RoundRobinBalancer();
  balancer.update(ID, endpoints, { kind: 'None' });
  const metrics = new ProxyMetrics();
  const proxy = new UdpProxySocket({ id: ID, balancer, metrics, logger, idleTimeoutMs });
  const port = await proxy.listen('127.0.0.1', 0);
  cleanups.push(() => proxy.destroy());
  return { proxy, port, metrics };
}

/** A client socket that sends `msg` every `retryMs` until a reply arrives. */
async function ask(proxyPort: number, msg: string, client?: Socket, giveUpMs = 5000): Promise<string> {
  const sock = client ?? createSocket('udp4');
  if (!client) {
    await bind(sock);
    cleanups.push(() => new Promise<void>((r) => sock.close(() => r())));
  }
  return new Promise((resolve, reject) => {
    const send = (): void => sock.send(msg, proxyPort, '127.0.0.1');
    const timer = setInterval(send, 100);
    const give = setTimeout(() => {
      clearInterval(timer);
      reject(new Error(`no reply to ${msg}`));
    }, giveUpMs);
    sock.once('message', (m) => {
      clearInterval(timer);
      clearTimeout(give);
      resolve(String(m));
    });
    send();
  });
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('UdpProxySocket', () => {
  it('gives each client its own upstream (round-robin) and replies to the right client', async () => {
    const { port, proxy } = await startProxy([await namedEcho('a'), await namedEcho('b')]);
    const replies = await Promise.all(['c1', 'c2', 'c3', 'c4'].map((m) => ask(port, m)));
    expect(replies.map((r) => r.split(':')[1])).toEqual(['c1', 'c2', 'c3', 'c4']);
    expect(new Set(replies.map((r) => r.split(':')[0]))).toEqual(new Set(['a', 'b']));
    expect(proxy.activeConnections).toBe(4);
  });

  it('a client keeps its endpoint within a session', async () => {
    const { port } = await startProxy([await namedEcho('a'), await namedEcho('b')], 2000);
    const client = createSocket('udp4');
    await bind(client);
    cleanups.push(() => new Promise<void>((r) => client.close(() => r())));
    const first = (await ask(port, 'x', client)).split(':')[0];
    for (let i = 0; i < 5; i++) expect((await ask(port, `m${i}`, client)).split(':')[0]).toBe(first);
  });

  it('closes idle sessions and counts bytes', async () => {
    const { port, proxy, metrics } = await startProxy([await namedEcho('a')], 100);
    expect(await ask(port, 'hello')).toBe('a:hello');
    expect(proxy.activeConnections).toBe(1);
    await until(() => proxy.activeConnections === 0, 2000);
    const bytes = await metrics.registry.getSingleMetric('svcnet_userspace_bytes_total')!.get();
    const by = (d: string) => bytes.values.find((v) => v.labels.direction === d)?.value;
    expect(by('in')).toBeGreaterThanOrEqual(5);
    expect(by('out')).toBeGreaterThanOrEqual(7);
  });

  it('a dead endpoint is left for the next endpoint after a retransmit', async () => {
    const { port, metrics } = await startProxy([await deadUdpPort(), await namedEcho('live')], 5000);
    const replies: string[] = [];
    for (let i = 0; i < 4; i++) replies.push(await ask(port, `q${i}`));
    expect(replies).toEqual(['live:q0', 'live:q1', 'live:q2', 'live:q3']);
    const failures = await metrics.registry.getSingleMetric('svcnet_userspace_dial_failures_total')!.get();
    expect(failures.values[0]?.value).toBeGreaterThanOrEqual(1);
  });

  it('drops datagrams when the service has no endpoints', async () => {
    const { port, proxy } = await startProxy([]);
    await expect(ask(port, 'x', undefined, 500)).rejects.toThrow(/no reply/);
    expect(proxy.activeConnections).toBe(0);
  });

  it('closeSessionsExcept moves a busy client off a removed endpoint that still answers', async () => {
    const a = await namedEcho('a');
    const b = await namedEcho('b');
    // An idle timeout far beyond the test: only closeSessionsExcept can end the session.
    const balancer = new RoundRobinBalancer();
    balancer.update(ID, [a, b], { kind: 'None' });
    const proxy = new UdpProxySocket({ id: ID, balancer, metrics: new ProxyMetrics(), logger, idleTimeoutMs: 60_000 });
    const port = await proxy.listen('127.0.0.1', 0);
    cleanups.push(() => proxy.destroy());
    const client = createSocket('udp4');
    await bind(client);
    cleanups.push(() => new Promise<void>((r) => client.close(() => r())));

    const first = (await ask(port, 'one', client)).split(':')[0]!;
    expect(await ask(port, 'two', client)).toBe(`${first}:two`);
    const [gone, stays] = first === 'a' ? [a, b] : [b, a];
    balancer.update(ID, [stays], { kind: 'None' });
    // The balancer alone changes nothing for an open session: the client is still on the removed endpoint.
    expect(await ask(port, 'three', client)).toBe(`${first}:three`);
    expect(proxy.closeSessionsExcept(new Set([`${stays.host}:${stays.port}`]))).toBe(1);
    expect(proxy.activeConnections).toBe(0);
    expect((await ask(port, 'four', client)).startsWith(first === 'a' ? 'b:' : 'a:')).toBe(true);
    expect(proxy.closeSessionsExcept(new Set([`${stays.host}:${stays.port}`]))).toBe(0);
    expect(gone.port).not.toBe(stays.port);
  });
});
