import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serviceCodec } from '@svcnet/api';
import { objectKey, STATE_BUCKET, type Service } from '@svcnet/model';
import { startNatsServer, type NatsServerHandle } from '@svcnet/testing';
import { connectStore, type StoreConnection } from './connection.js';
import { FeedSnapshotWriter, openFeedBucket } from './feed-snapshot-writer.js';
import { FleetFeed, feedRepublish, feedSubject } from './fleet-feed.js';
import { KindFeed } from './kind-feed.js';
import { jsmFor, kvStreamName } from './kv-feed.js';
import { openStateStores, type StateStores } from './object-store.js';

function svc(namespace: string, name: string, port = 80): Service {
  return {
    metadata: { namespace, name, uid: `uid-${name}`, labels: {}, annotations: {}, resourceVersion: 0 },
    spec: {
      type: 'ClusterIP',
      clusterIP: '10.96.0.10',
      clusterIPs: ['10.96.0.10'],
      ipFamilies: ['IPv4'],
      ports: [{ name: '', protocol: 'TCP', port, targetPort: port, nodePort: 0 }],
      selector: {},
      sessionAffinity: 'None',
      sessionAffinityTimeoutSeconds: 0,
      externalTrafficPolicy: 'Cluster',
      internalTrafficPolicy: 'Cluster',
      externalIPs: [],
    },
  };
}

async function until(cond: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A FleetFeed with one KindFeed of services, as an agent wires them. */
function agentFeed(connection: StoreConnection, opts: { snapshots?: boolean; gapFillLimit?: number; tailCheckMs?: number; liveSubject?: string; bucket?: string } = {}) {
  const events: string[] = [];
  let synced = 0;
  const services = new KindFeed<Service>({
    kind: 'Service',
    codec: serviceCodec,
    handlers: {
      onUpsert: (s, meta) => events.push(`upsert ${meta.key} ${s.spec.ports[0]?.port}`),
      onDelete: (k) => events.push(`delete ${k.namespace}/${k.name}`),
      onSynced: () => synced++,
    },
  });
  let baseSource = '';
  const feed = new FleetFeed({
    connection,
    prefixes: ['services.', 'endpoints.'],
    ...(opts.snapshots !== undefined ? { snapshots: opts.snapshots } : {}),
    ...(opts.gapFillLimit !== undefined ? { gapFillLimit: opts.gapFillLimit } : {}),
    ...(opts.liveSubject !== undefined ? { liveSubject: opts.liveSubject } : {}),
    ...(opts.bucket !== undefined ? { bucket: opts.bucket } : {}),
    tailCheckMs: opts.tailCheckMs ?? 300,
    tailGraceMs: 100,
    handlers: {
      onBase: (b) => {
        baseSource = b.source;
        services.applyBase(b);
      },
      onChange: (e) => void services.applyChange(e),
      onSynced: () => services.synced(),
    },
  });
  return {
    feed,
    services,
    events,
    get synced() {
      return synced;
    },
    get baseSource() {
      return baseSource;
    },
    view: () => [...services.snapshot().entries()].map(([k, s]) => `${k} ${s.spec.ports[0]?.port}`).sort(),
  };
}

describe('FleetFeed and the shared snapshot, against a real nats-server', () => {
  let nats: NatsServerHandle;
  let conn: StoreConnection;
  let stores: StateStores;

  /** The store's services of a namespace as "key port" lines. */
  const storeView = async (ns: string): Promise<string[]> =>
    (await stores.services.list(ns)).items.map((s) => `${objectKey('Service', ns, s.metadata.name)} ${s.spec.ports[0]?.port}`).sort();
  const only = (lines: string[], ns: string): string[] => lines.filter((l) => l.startsWith(`services.${ns}.`));

  /**
   * A relay between the stream's republished records and the agents under
   * test, which can lose records on purpose (as a dropped connection or a
   * slow consumer would).
   */
  const RELAY = 'relay.svcnet-state';
  let dropping = false;
  const republish = (on: boolean): void => {
    dropping = !on;
  };

  beforeAll(async () => {
    nats = await startNatsServer();
    conn = await connectStore({ url: nats.url, name: 'fleet-feed-spec' });
    stores = await openStateStores(conn);
    const prefix = feedSubject(STATE_BUCKET).length + 1;
    conn.nc.subscribe(`${feedSubject(STATE_BUCKET)}.>`, {
      callback: (_err, m) => {
        if (!dropping) conn.nc.publish(`${RELAY}.${m.subject.substring(prefix)}`, m.data, { ...(m.headers ? { headers: m.headers } : {}) });
      },
    });
    await conn.nc.flush();
  });
  afterAll(async () => {
    await conn?.close();
    await nats?.cleanup();
  });

  it('the state bucket republishes its records; a bucket without that setting is followed through a consumer', async () => {
    const jsm = await jsmFor(conn.nc);
    expect((await jsm.streams.info(kvStreamName(STATE_BUCKET))).config.republish).toEqual(feedRepublish(STATE_BUCKET));
    const legacy = await conn.bucket('legacy-state', { history: 1 });
    await legacy.put(objectKey('Service', 'old', 'a'), serviceCodec.encode(svc('old', 'a', 1)));
    const a = agentFeed(conn, { bucket: 'legacy-state', snapshots: false });
    await a.feed.start();
    try {
      expect(a.view()).toEqual(['services.old.a 1']);
      await legacy.put(objectKey('Service', 'old', 'b'), serviceCodec.encode(svc('old', 'b', 2)));
      await until(() => a.view().length === 2);
      expect(a.view()).toEqual(['services.old.a 1', 'services.old.b 2']);
    } finally {
      await a.feed.stop();
    }
  });

  it('without a snapshot: lists, then follows live changes; cache equals store', async () => {
    for (let i = 0; i < 5; i++) await stores.services.create(svc('plain', `s${i}`, 100 + i));
    const a = agentFeed(conn);
    await a.feed.start();
    try {
      expect(a.baseSource).toBe('list');
      expect(a.synced).toBe(1);
      expect(only(a.view(), 'plain')).toEqual(await storeView('plain'));
      await stores.services.create(svc('plain', 'new', 200));
      await stores.services.delete('plain', 's0');
      await until(async () => JSON.stringify(only(a.view(), 'plain')) === JSON.stringify(await storeView('plain')));
      expect(a.events.slice(-2)).toEqual(['upsert services.plain.new 200', 'delete plain/s0']);
      expect(a.feed.gapRecordsFetched).toBe(0);
    } finally {
      await a.feed.stop();
    }
  });

  it('with the writer running: starts from the shared snapshot, with no consumer of its own', async () => {
    for (let i = 0; i < 20; i++) await stores.services.create(svc('snap', `s${i}`, 300 + i));
    const writer = new FeedSnapshotWriter({ connection: conn, feedKv: await openFeedBucket(conn), prefixes: ['services.', 'endpoints.'], headDelayMs: 10 });
    await writer.start();
    try {
      await until(() => writer.writtenRevision > 0 && writer.heads > 0);
      const agentConn = await connectStore({ url: nats.url, name: 'agent' });
      const a = agentFeed(agentConn);
      const jsm = await jsmFor(conn.nc);
      const consumersBefore = (await jsm.streams.info(kvStreamName(STATE_BUCKET))).state.consumer_count;
      await a.feed.start();
      try {
        expect(a.baseSource).toMatch(/^snapshot /);
        expect((await jsm.streams.info(kvStreamName(STATE_BUCKET))).state.consumer_count).toBe(consumersBefore);
        expect(only(a.view(), 'snap')).toEqual(await storeView('snap'));
        // Live changes arrive after the snapshot; the writer folds them into the head's delta.
        await stores.services.update(svc('snap', 's1', 999), (await stores.services.get('snap', 's1')).metadata.resourceVersion);
        await until(async () => JSON.stringify(only(a.view(), 'snap')) === JSON.stringify(await storeView('snap')));
        // A second agent starting now sees the change through the head's delta.
        await until(() => writer.writtenRevision >= a.feed.revision);
        const b = agentFeed(agentConn);
        await b.feed.start();
        expect(b.baseSource).toMatch(/^snapshot .* \+ [1-9]/);
        expect(only(b.view(), 'snap')).toEqual(await storeView('snap'));
        await b.feed.stop();
      } finally {
        await a.feed.stop();
        await agentConn.close();
      }
    } finally {
      await writer.stop();
    }
  });

  it('a short gap (records that never reached us) is fetched record by record', async () => {
    const a = agentFeed(conn, { liveSubject: RELAY });
    await a.feed.start();
    try {
      await stores.services.create(svc('gap', 'first', 1));
      await until(() => a.view().includes('services.gap.first 1'));
      republish(false);
      for (let i = 0; i < 5; i++) await stores.services.create(svc('gap', `lost${i}`, 10 + i));
      republish(true);
      await stores.services.create(svc('gap', 'after', 2));
      await until(async () => JSON.stringify(only(a.view(), 'gap')) === JSON.stringify(await storeView('gap')));
      expect(a.feed.gapRecordsFetched).toBe(5);
      expect(a.feed.resyncCount).toBe(1);
    } finally {
      await a.feed.stop();
    }
  });

  it('a lost tail (nothing after it to show the gap) is found by the periodic check', async () => {
    const a = agentFeed(conn, { tailCheckMs: 200, liveSubject: RELAY });
    await a.feed.start();
    try {
      republish(false);
      await stores.services.create(svc('tail', 'lost', 7));
      republish(true);
      await until(async () => JSON.stringify(only(a.view(), 'tail')) === JSON.stringify(await storeView('tail')));
      expect(a.view()).toContain('services.tail.lost 7');
    } finally {
      await a.feed.stop();
    }
  });

  it('a gap longer than the limit takes a new base, with deletes for keys that vanished', async () => {
    await stores.services.create(svc('long', 'doomed', 5));
    const a = agentFeed(conn, { gapFillLimit: 8, liveSubject: RELAY });
    await a.feed.start();
    try {
      republish(false);
      await stores.services.delete('long', 'doomed');
      for (let i = 0; i < 20; i++) await stores.services.create(svc('long', `s${i}`, 20 + i));
      republish(true);
      await stores.services.create(svc('long', 'after', 3));
      await until(async () => JSON.stringify(only(a.view(), 'long')) === JSON.stringify(await storeView('long')));
      expect(a.feed.resyncCount).toBe(2);
      expect(a.events).toContain('delete long/doomed');
    } finally {
      await a.feed.stop();
    }
  });

  it('loses no update across a nats-server restart while writes continue', async () => {
    for (let i = 0; i < 10; i++) await stores.services.create(svc('restart', `s${i}`, 1000 + i));
    const a = agentFeed(conn, { tailCheckMs: 500 });
    await a.feed.start();
    const writer = await connectStore({ url: nats.url, name: 'writer' });
    const wstores = await openStateStores(writer);
    let stop = false;
    let writes = 0;
    const loop = (async () => {
      for (let i = 0; !stop; i++) {
        try {
          const name = `s${i % 15}`;
          const cur = await wstores.services.tryGet('restart', name);
          if (i % 7 === 0 && cur) await wstores.services.delete('restart', name);
          else if (cur) await wstores.services.update(svc('restart', name, 2000 + i), cur.metadata.resourceVersion);
          else await wstores.services.create(svc('restart', name, 3000 + i));
          writes++;
        } catch {
          await new Promise((r) => setTimeout(r, 50)); // NATS is down: try again
        }
      }
    })();
    try {
      await until(() => writes > 20);
      await nats.restart();
      const before = writes;
      await until(() => writes > before + 40, 30_000);
      stop = true;
      await loop;
      await until(async () => JSON.stringify(only(a.view(), 'restart')) === JSON.stringify(await storeView('restart')), 20_000);
    } finally {
      stop = true;
      await loop;
      await a.feed.stop();
      await writer.close();
    }
  });
});
