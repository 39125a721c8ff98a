import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectStore, openStateStores, type StateStores, type StoreConnection } from '@svcnet/store';
import { startNatsServer, type NatsServerHandle } from '@svcnet/testing';
import { DnsApp } from './dns-app.js';
import { answerLines, decode, endpoints, query, service, udpExchange } from './test-support.js';

const D = 'cluster.local';

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function resolve(app: DnsApp, name: string, type = 'A') {
  const wire = await udpExchange(app.dnsPort, query(name, type));
  if (!wire) throw new Error(`no answer for ${name}`);
  return decode(wire);
}

async function http(app: DnsApp, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${app.httpPort}${path}`);
  return { status: res.status, body: await res.text() };
}

describe('svcnet-dns fed by a real nats-server', () => {
  let nats: NatsServerHandle;
  let conn: StoreConnection;
  let stores: StateStores;
  let app: DnsApp;

  beforeAll(async () => {
    nats = await startNatsServer();
    conn = await connectStore({ url: nats.url, name: 'dns-spec' });
    stores = await openStateStores(conn);
    await stores.services.create(service({ name: 'web', clusterIPs: ['10.96.0.20'] }));
    app = new DnsApp({
      options: {
        listen: { host: '127.0.0.1', port: 0 },
        nats: { url: nats.url },
        natsUrl: nats.url,
        clusterDomain: D,
        ttlSeconds: 1,
        upstream: [],
        metricsBindAddress: { host: '127.0.0.1', port: 0 },
        verbosity: 0,
      },
      logger: pino({ level: 'silent' }),
    });
    await app.start();
    await app.waitSynced(15_000);
  });
  afterAll(async () => {
    await app?.stop();
    await conn?.close();
    await nats?.cleanup();
  });

  it('answers from the initial list; /readyz is 200', async () => {
    expect(answerLines(await resolve(app, `web.default.svc.${D}`))).toEqual([`web.default.svc.${D} A 10.96.0.20`]);
    const ready = await http(app, '/readyz');
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.body)).toMatchObject({ ready: true, synced: true, natsConnected: true });
  });

  it('follows creates, endpoint changes and deletes from the feed', async () => {
    await stores.services.create(service({ name: 'db', clusterIPs: ['None'], ports: [{ name: 'pg', port: 5432 }] }));
    await stores.endpoints.create(endpoints({ name: 'db', addresses: [{ ip: '10.244.1.5' }, { ip: '10.244.2.6' }], ports: [{ name: 'pg', port: 5432 }] }));
    await until('db resolves to both pods', async () => ((await resolve(app, `db.default.svc.${D}`)).answers?.length === 2 ? true : undefined));
    const ep = await stores.endpoints.get('default', 'db');
    ep.subsets[0]!.addresses[1]!.ready = false;
    await stores.endpoints.update(ep, ep.metadata.resourceVersion);
    await until('the not-ready pod leaves the answer', async () => {
      const lines = answerLines(await resolve(app, `db.default.svc.${D}`));
      return lines.join() === `db.default.svc.${D} A 10.244.1.5` ? true : undefined;
    });
    await stores.services.delete('default', 'db');
    await until('db is NXDOMAIN', async () => ((await resolve(app, `db.default.svc.${D}`)).rcode === 'NXDOMAIN' ? true : undefined));
    const metrics = (await http(app, '/metrics')).body;
    expect(metrics).toMatch(/svcnet_dns_feed_last_revision\{kind="Service"\} [1-9]/);
    expect(metrics).toMatch(/svcnet_dns_zone_services 1/);
  });

  it('keeps answering while NATS is away, says so, and catches up when it returns', async () => {
    await nats.stop();
    await until('/readyz reports NATS down', async () => ((await http(app, '/readyz')).status === 503 ? true : undefined));
    const ready = JSON.parse((await http(app, '/readyz')).body) as { natsConnected: boolean; synced: boolean; disconnectedSince?: string };
    expect(ready).toMatchObject({ natsConnected: false, synced: true });
    expect(ready.disconnectedSince).toBeDefined();
    expect((await http(app, '/metrics')).body).toMatch(/svcnet_dns_feed_connected 0/);
    expect(answerLines(await resolve(app, `web.default.svc.${D}`))).toEqual([`web.default.svc.${D} A 10.96.0.20`]);
    expect((await http(app, '/healthz')).status).toBe(200);

    await nats.restart();
    // JetStream takes a moment after a restart: the test's own write retries.
    await until('the store takes writes again', () =>
      stores.services.create(service({ name: 'after', clusterIPs: ['10.96.0.77'] })).then(() => true, () => undefined),
    );
    await until('a service created after the outage resolves', async () =>
      (await resolve(app, `after.default.svc.${D}`)).rcode === 'NOERROR' ? true : undefined,
    );
    await until('/readyz is 200 again', async () => ((await http(app, '/readyz')).status === 200 ? true : undefined));
    expect((await http(app, '/metrics')).body).toMatch(/svcnet_dns_feed_connected 1/);
  }, 60_000);
});

describe('svcnet-dns while NATS was never reachable', () => {
  it('answers SERVFAIL for cluster names, is not ready, and stops promptly', async () => {
    const app = new DnsApp({
      options: {
        listen: { host: '127.0.0.1', port: 0 },
        nats: { url: 'nats://127.0.0.1:1' },
        natsUrl: 'nats://127.0.0.1:1',
        clusterDomain: D,
        ttlSeconds: 1,
        upstream: [],
        metricsBindAddress: { host: '127.0.0.1', port: 0 },
        verbosity: 0,
      },
      logger: pino({ level: 'silent' }),
    });
    await app.start();
    try {
      expect((await resolve(app, `web.default.svc.${D}`)).rcode).toBe('SERVFAIL');
      expect((await resolve(app, 'example.org')).rcode).toBe('REFUSED');
      const ready = await http(app, '/readyz');
      expect(ready.status).toBe(503);
      expect(JSON.parse(ready.body)).toMatchObject({ synced: false, natsConnected: false });
    } finally {
      const started = Date.now();
      await app.stop();
      expect(Date.now() - started).toBeLessThan(3000);
    }
  });
});
