import { createHash, randomBytes } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { RoundRobinBalancer, type Endpoint } from './balancer.js';
import { ProxyMetrics } from './metrics.js';
import { TcpProxySocket } from './tcp-proxy.js';

const logger = pino({ level: 'silent' });
const ID = 'default/web:http';
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
}

/** A backend that answers `<name>:<request>` to each connection, then closes. */
async function namedServer(name: string): Promise<Endpoint> {
  const server = createServer((s) => {
    s.once("data", (d) => s.end(`${name}:${String(d)}`));
  });
  cleanups.push(() => void server.close());
  return { host: '127.0.0.1', port: await listen(server) };
}

/** A port nobody listens on (bound then released). */
async function deadPort(): Promise<Endpoint> {
  const server = createServer();
  const port = await listen(server);
  await new Promise((r) => server.close(r));
  return { host: '127.0.0.1', port };
}

async function startProxy(endpoints: Endpoint[], dialTimeoutsMs?: number[]) {
  const balancer = new RoundRobinBalancer();
  balancer.update(ID, endpoints, { kind: 'None' });
  const metrics = new ProxyMetrics();
  const proxy = new TcpProxySocket({ id: ID, balancer, metrics, logger, ...(dialTimeoutsMs ? { dialTimeoutsMs } : {}) });
  const port = await proxy.listen('127.0.0.1', 0);
  cleanups.push(() => proxy.destroy());
  return { proxy, port, metrics, balancer };
}

/** Sends `msg`, reads until the server closes. */
function request(port: number, msg: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.write(msg));
    let out = '';
    s.on('data', (d) => (out += String(d)));
    // A proxy that gives up resets the client (its request is unread): that is a close too.
    s.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' ? undefined : reject(e)));
    s.on('close', () => resolve(out));
  });
}

async function metricValue(metrics: ProxyMetrics, name: string, labels: Record<string, string>): Promise<number> {
  const m = await metrics.registry.getSingleMetric(name)!.get();
  const v = m.values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return v?.value ?? 0;
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('TcpProxySocket', () => {
  it('round-robins connections across endpoints', async () => {
    const { port } = await startProxy([await namedServer('a'), await namedServer('b')]);
    const got: string[] = [];
    for (let i = 0; i < 4; i++) got.push(await request(port, `r${i}`));
    expect(got).toEqual(['a:r0', 'b:r1', 'a:r2', 'b:r3']);
  });

  const deadCases = [
    { name: 'dead endpoint first', order: ['dead', 'live'] },
    { name: 'dead endpoint last', order: ['live', 'dead'] },
  ];
  for (const c of deadCases) {
    it(`one endpoint without a listener: every request still succeeds (${c.name})`, async () => {
      const live = await namedServer('live');
      const dead = await deadPort();
      const { port, metrics } = await startProxy(c.order.map((o) => (o === 'dead' ? dead : live)));
      const got = await Promise.all(Array.from({ length: 20 }, (_, i) => request(port, `q${i}`)));
      expect(got).toEqual(Array.from({ length: 20 }, (_, i) => `live:q${i}`));
      expect(await metricValue(metrics, 'svcnet_userspace_dial_failures_total', { service: ID })).toBeGreaterThanOrEqual(1);
    });
  }

  it('closes the client after every dial attempt failed', async () => {
    const { port, metrics, proxy } = await startProxy([await deadPort(), await deadPort()], [50, 50, 50]);
    expect(await request(port, 'x')).toBe('');
    expect(await metricValue(metrics, 'svcnet_userspace_dial_failures_total', { service: ID })).toBe(3);
    await until(() => proxy.activeConnections === 0);
  });

  it('closes the client at once when the service has no endpoints', async () => {
    const { port } = await startProxy([]);
    expect(await request(port, 'x')).toBe('');
  });

  it('keeps half-close: client FIN reaches the backend, the reply still comes back', async () => {
    // The backend replies only after the client has finished sending.
    const server = createServer({ allowHalfOpen: true }, (s) => {
      let got = '';
      s.on('data', (d) => (got += String(d)));
      s.on('end', () => setTimeout(() => s.end(`after-fin:${got}`), 50));
    });
    cleanups.push(() => void server.close());
    const { port, proxy } = await startProxy([{ host: '127.0.0.1', port: await listen(server) }]);
    const reply = await new Promise<string>((resolve, reject) => {
      const s = connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () => s.end('hello'));
      let out = '';
      s.on('data', (d) => (out += String(d)));
      s.on('error', reject);
      s.on('close', () => resolve(out));
    });
    expect(reply).toBe('after-fin:hello');
    await until(() => proxy.activeConnections === 0);
  });

  it('keeps half-close the other way: the backend finishes first, the client still sends', async () => {
    let got = '';
    const server = createServer({ allowHalfOpen: true }, (s) => {
      s.end('server-done'); // FIN right away; keep reading
      s.on('data', (d) => (got += String(d)));
    });
    cleanups.push(() => void server.close());
    const { port, proxy } = await startProxy([{ host: '127.0.0.1', port: await listen(server) }]);
    const reply = await new Promise<string>((resolve, reject) => {
      const s = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
      let out = '';
      s.on('data', (d) => (out += String(d)));
      s.on('end', () => setTimeout(() => s.end('late-from-client'), 50));
      s.on('error', reject);
      s.on('close', () => resolve(out));
    });
    expect(reply).toBe('server-done');
    await until(() => got === 'late-from-client');
    await until(() => proxy.activeConnections === 0);
  });

  it('ClientIP affinity keeps a client on one endpoint across connections', async () => {
    const balancer = new RoundRobinBalancer();
    balancer.update(ID, [await namedServer('a'), await namedServer('b')], { kind: 'ClientIP', timeoutSeconds: 60 });
    const proxy = new TcpProxySocket({ id: ID, balancer, metrics: new ProxyMetrics(), logger });
    const port = await proxy.listen('127.0.0.1', 0);
    cleanups.push(() => proxy.destroy());
    const got = new Set<string>();
    for (let i = 0; i < 6; i++) got.add((await request(port, 'x')).split(':')[0]!);
    expect(got.size).toBe(1);
  });

  it('streams 100 MB both ways intact (sha256) with backpressure, then leaks nothing', async () => {
    const echo = createServer({ allowHalfOpen: true }, (s) => s.pipe(s));
    cleanups.push(() => void echo.close());
    const { port, proxy, metrics } = await startProxy([{ host: '127.0.0.1', port: await listen(echo) }]);
    const chunk = randomBytes(1 << 20);
    const total = 100;
    const sent = createHash('sha256');
    const received = createHash('sha256');
    let receivedBytes = 0;
    await new Promise<void>((resolve, reject) => {
      const s: Socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () => {
        let i = 0;
        const pump = (): void => {
          while (i < total) {
            sent.update(chunk);
            i++;
            if (!s.write(chunk)) return void s.once('drain', pump);
          }
          s.end();
        };
        pump();
      });
      s.on('data', (d: Buffer) => {
        received.update(d);
        receivedBytes += d.length;
      });
      s.on('error', reject);
      s.on('close', () => resolve());
    });
    expect(receivedBytes).toBe(total * chunk.length);
    expect(received.digest('hex')).toBe(sent.digest('hex'));
    await until(() => proxy.activeConnections === 0);
    expect(await metricValue(metrics, 'svcnet_userspace_active_connections', { service: ID })).toBe(0);
    expect(await metricValue(metrics, 'svcnet_userspace_bytes_total', { service: ID, direction: 'in' })).toBe(total * chunk.length);
    expect(await metricValue(metrics, 'svcnet_userspace_bytes_total', { service: ID, direction: 'out' })).toBe(total * chunk.length);
    expect(await metricValue(metrics, 'svcnet_userspace_connections_total', { service: ID, protocol: 'TCP' })).toBe(1);
  });

  it('a client reset closes the upstream connection too', async () => {
    let upstreamClosed = false;
    const server = createServer((s) => {
      s.on('error', () => undefined);
      s.resume(); // read, so that the proxy's FIN/RST is noticed
      s.on('close', () => (upstreamClosed = true));
    });
    cleanups.push(() => void server.close());
    const { port, proxy } = await startProxy([{ host: '127.0.0.1', port: await listen(server) }]);
    const s = connect(port, '127.0.0.1');
    await new Promise((r) => s.once('connect', r));
    s.write('partial');
    await until(() => proxy.activeConnections === 1);
    await new Promise((r) => setTimeout(r, 50));
    s.resetAndDestroy();
    await until(() => proxy.activeConnections === 0);
    await until(() => upstreamClosed);
  });

  it('after closeListener, existing connections continue and new ones are refused', async () => {
    const echo = createServer((s) => s.pipe(s));
    cleanups.push(() => void echo.close());
    const { port, proxy } = await startProxy([{ host: '127.0.0.1', port: await listen(echo) }]);
    const s = connect(port, '127.0.0.1');
    await new Promise((r) => s.once('connect', r));
    await until(() => proxy.activeConnections === 1);
    await proxy.closeListener();
    const echoed = new Promise<string>((r) => s.once('data', (d) => r(String(d))));
    s.write('still here');
    expect(await echoed).toBe('still here');
    const refused = await new Promise<string>((r) => {
      const c = connect(port, '127.0.0.1');
      c.on('error', (e: NodeJS.ErrnoException) => r(e.code ?? ''));
      c.on('connect', () => r('connected'));
    });
    expect(refused).toBe('ECONNREFUSED');
    s.destroy();
    await until(() => proxy.activeConnections === 0);
  });
});
