import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodePortRange, ServiceIpRange, type RandomBelow } from '@svcnet/ipam';
import { AllocationStore, connectStore, type StoreConnection } from '@svcnet/store';
import { startNatsServer, type NatsServerHandle } from '@svcnet/testing';
import { RangeAllocator } from './range-allocator.js';

// Real nats-server: the store's create-if-absent is what is under test.
describe('RangeAllocator on a real JetStream KV bucket', () => {
  let nats: NatsServerHandle;
  const connections: StoreConnection[] = [];
  const stores: AllocationStore[] = [];

  const openStore = async (bucket: string) => {
    const connection = await connectStore({ url: nats.url, name: 'spec', reconnectForever: false });
    connections.push(connection);
    const store = await AllocationStore.open({ connection, bucket });
    stores.push(store);
    return store;
  };

  beforeAll(async () => {
    nats = await startNatsServer();
  });
  afterAll(async () => {
    for (const s of stores) s.close();
    for (const c of connections) await c.close();
    await nats?.cleanup();
  });

  it('two replicas with the same "random" collide on every pick and still never share a value', async () => {
    const sameStart: RandomBelow = () => 0n; // both always start at the bottom of the band
    const range = ServiceIpRange.parse('10.50.0.0/26'); // 62 usable, static band 16
    const a = new RangeAllocator(range, await openStore('spec-collide'), sameStart);
    const b = new RangeAllocator(range, await openStore('spec-collide'), sameStart);
    const results = await Promise.all(
      Array.from({ length: 62 }, (_, i) => (i % 2 ? a : b).allocate({ owner: `ns/s${i}`, field: 'requested_ip' })),
    );
    const values = results.map((r) => r.value);
    expect(new Set(values).size).toBe(62);
    await expect(a.allocate({ owner: 'ns/full', field: 'requested_ip' })).rejects.toMatchObject({ code: 'RESOURCE_EXHAUSTED' });
  });

  it('a restart sees every earlier allocation through the watch', async () => {
    const range = NodePortRange.parse('30000-30004');
    const first = new RangeAllocator(range, await openStore('spec-restart'));
    const held = await Promise.all([0, 1, 2].map((i) => first.allocate({ owner: `ns/p${i}`, field: 'requested_port' })));
    const second = new RangeAllocator(range, await openStore('spec-restart'));
    expect(second.usage()).toEqual({ size: 5n, used: 3n, free: 2n });
    const more = await Promise.all([3, 4].map((i) => second.allocate({ owner: `ns/p${i}`, field: 'requested_port' })));
    expect(new Set([...held, ...more].map((r) => r.value)).size).toBe(5);
  });

  it('a requested value is canonicalised and refused when taken or outside', async () => {
    const range = ServiceIpRange.parse('fd00:50::/120');
    const alloc = new RangeAllocator(range, await openStore('spec-requested'));
    const cases = [
      { name: 'expanded form', requested: 'FD00:50:0:0:0:0:0:0A', want: { value: 'fd00:50::a' } },
      { name: 'same IP again', requested: 'fd00:50::a', code: 'ALREADY_EXISTS' },
      { name: 'outside', requested: 'fd00:51::1', code: 'INVALID_ARGUMENT' },
      { name: 'anycast first address', requested: 'fd00:50::', code: 'INVALID_ARGUMENT' },
    ];
    for (const tc of cases) {
      const p = alloc.allocate({ owner: 'ns/x', requested: tc.requested, field: 'requested_ip' });
      if (tc.want) await expect(p, tc.name).resolves.toMatchObject(tc.want);
      else await expect(p, tc.name).rejects.toMatchObject({ code: tc.code, field: 'requested_ip' });
    }
  });

  it('release: owner only, idempotent, CAS-safe', async () => {
    const store = await openStore('spec-release');
    const alloc = new RangeAllocator(NodePortRange.parse('31000-31009'), store);
    const r = await alloc.allocate({ owner: 'ns/a', requested: '31005', field: 'requested_port' });
    await expect(store.release(r.value, 'ns/b', 'port')).rejects.toMatchObject({ code: 'FAILED_PRECONDITION', field: 'port' });
    expect(await store.release(r.value, 'ns/a', 'port')).toBe(true);
    expect(await store.release(r.value, 'ns/a', 'port')).toBe(false);
    // A released key (a KV delete marker) can be created again.
    await expect(alloc.allocate({ owner: 'ns/b', requested: '31005', field: 'requested_port' })).resolves.toMatchObject({ owner: 'ns/b' });
  });
});
