import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serviceCodec } from '@svcnet/api';
import { startNatsServer, type NatsServerHandle } from '@svcnet/testing';
import { objectKey, type Service } from '@svcnet/model';
import { connectStore, type StoreConnection } from './connection.js';
import { KindWatcher } from './kind-watcher.js';
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

interface Recorder {
  events: string[];
  synced: number;
}

function watcherFor(connection: StoreConnection, rec: Recorder, namespace?: string): KindWatcher<Service> {
  return new KindWatcher<Service>({
    connection,
    kind: 'Service',
    codec: serviceCodec,
    ...(namespace ? { namespace } : {}),
    handlers: {
      onUpsert: (s, meta) => rec.events.push(`upsert ${meta.key} ${s.spec.ports[0]?.port}`),
      onDelete: (k, meta) => rec.events.push(`delete ${k.namespace}/${k.name} last=${meta.last ? 'yes' : 'no'}`),
      onSynced: () => rec.synced++,
    },
  });
}

/** The store's decodable services as "key port" lines, to compare with a watcher's cache. */
async function storeView(stores: StateStores): Promise<string[]> {
  const { items } = await stores.services.list();
  return items.map((s) => `${objectKey('Service', s.metadata.namespace, s.metadata.name)} ${s.spec.ports[0]?.port}`).sort();
}

function cacheView(w: KindWatcher<Service>): string[] {
  return [...w.snapshot().entries()].map(([k, s]) => `${k} ${s.spec.ports[0]?.port}`).sort();
}

describe('ObjectStore and KindWatcher against a real nats-server', () => {
  let nats: NatsServerHandle;
  let conn: StoreConnection;
  let stores: StateStores;

  beforeAll(async () => {
    nats = await startNatsServer();
    conn = await connectStore({ url: nats.url, name: 'store-spec' });
    stores = await openStateStores(conn);
  });
  afterAll(async () => {
    await conn?.close();
    await nats?.cleanup();
  });

  it('creates, reads, updates with CAS and deletes', async () => {
    const created = await stores.services.create(svc('crud', 'a'));
    expect(created.metadata.resourceVersion).toBeGreaterThan(0);
    await expect(stores.services.create(svc('crud', 'a'))).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
    const got = await stores.services.get('crud', 'a');
    expect(got.metadata.resourceVersion).toBe(created.metadata.resourceVersion);
    const stale = got.metadata.resourceVersion;
    const updated = await stores.services.update(svc('crud', 'a', 81), stale);
    expect(updated.metadata.resourceVersion).toBeGreaterThan(stale);
    await expect(stores.services.update(svc('crud', 'a', 82), stale)).rejects.toMatchObject({ code: 'ABORTED' });
    await stores.services.delete('crud', 'a');
    await expect(stores.services.get('crud', 'a')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(stores.services.update(svc('crud', 'a', 83), updated.metadata.resourceVersion)).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    // A deleted key can be created again.
    await stores.services.create(svc('crud', 'a'));
    const { items } = await stores.services.list('crud');
    expect(items.map((s) => s.metadata.name)).toEqual(['a']);
  });

  it('lists first, then reports live changes, and skips garbage values', async () => {
    await stores.services.create(svc('live', 'one'));
    const rec: Recorder = { events: [], synced: 0 };
    const w = watcherFor(conn, rec, 'live');
    await w.start();
    try {
      expect(rec).toEqual({ events: ['upsert services.live.one 80'], synced: 1 });
      await stores.kv.put(objectKey('Service', 'live', 'garbage'), new Uint8Array([0xff, 0xff, 0xff, 0x01]));
      await stores.services.create(svc('live', 'two', 90));
      await stores.services.delete('live', 'one');
      await until(() => rec.events.length >= 3);
      expect(rec.events).toEqual([
        'upsert services.live.one 80',
        'upsert services.live.two 90',
        'delete live/one last=yes',
      ]);
      expect(w.decodeErrors).toBe(1);
      expect([...w.snapshot().keys()]).toEqual(['services.live.two']);
      expect(w.revision).toBeGreaterThan(0);
    } finally {
      await w.stop();
    }
  });

  it('resumes after a nats-server restart while writes continue; cache equals store', async () => {
    const rec: Recorder = { events: [], synced: 0 };
    const w = watcherFor(conn, rec, 'restart');
    for (let i = 0; i < 20; i++) await stores.services.create(svc('restart', `s${i}`, 1000 + i));
    await w.start();
    // A second connection keeps writing while the server goes away and comes back.
    const writer = await connectStore({ url: nats.url, name: 'writer' });
    const wstores = await openStateStores(writer);
    let stop = false;
    let writes = 0;
    const loop = (async () => {
      for (let i = 0; !stop; i++) {
        try {
          const name = `s${i % 30}`;
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
      await until(async () => JSON.stringify(cacheView(w)) === JSON.stringify(await storeView(stores).then((v) => v.filter((l) => l.startsWith('services.restart.')))), 20_000);
      expect(rec.synced).toBe(1); // resumed, not relisted: the stream survived
    } finally {
      stop = true;
      await loop;
      await w.stop();
      await writer.close();
    }
  });

  it('relists and synthesizes deletes when the history is gone', async () => {
    const rec: Recorder = { events: [], synced: 0 };
    await stores.services.create(svc('gone', 'keep'));
    await stores.services.create(svc('gone', 'lost'));
    const w = watcherFor(conn, rec, 'gone');
    await w.start();
    await w.stop();
    // Recreate the bucket: a brand-new stream whose history knows nothing of ours.
    await stores.kv.destroy();
    const fresh = await openStateStores(conn);
    await fresh.services.create(svc('gone', 'keep', 81));
    rec.events.length = 0;
    await w.start();
    await until(() => rec.synced === 2);
    expect(rec.events.sort()).toEqual(['delete gone/lost last=yes', 'upsert services.gone.keep 81']);
    expect(cacheView(w)).toEqual(['services.gone.keep 81']);
    await w.stop();
    stores = fresh;
  });
});
