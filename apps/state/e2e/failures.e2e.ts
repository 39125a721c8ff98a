import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { status, type ServiceError } from '@grpc/grpc-js';
import type { allocatorv1 } from '@svcnet/api';
import type {
  AllocatorTestClient} from './harness.js';
import {
  eventually,
  grpcError,
  startState,
  StateStack,
  StateTestClient,
  wireService,
} from './harness.js';

const REPAIR_MS = 300;

/**
 * Every allocation belongs to a service that holds it, and every service's
 * IP and node ports are allocated to it: no orphans, no leaks.
 */
async function consistency(client: StateTestClient, alloc: AllocatorTestClient): Promise<{ orphans: string[]; unallocated: string[] }> {
  const [services, allocations] = await Promise.all([client.listServices({ allNamespaces: true }), alloc.list()]);
  const held = new Set<string>();
  for (const s of services.items) {
    const owner = `${s.metadata!.namespace}/${s.metadata!.name}`;
    if (s.spec!.clusterIp && s.spec!.clusterIp !== 'None') held.add(`1 ${s.spec!.clusterIp} ${owner}`);
    for (const p of s.spec!.ports) if (p.nodePort) held.add(`2 ${p.nodePort} ${owner}`);
  }
  const have = new Set(allocations.map((a: allocatorv1.Allocation) => `${a.kind} ${a.value} ${a.owner}`));
  return { orphans: [...have].filter((a) => !held.has(a)).sort(), unallocated: [...held].filter((h) => !have.has(h)).sort() };
}

describe('svcnet-state when things fail half-way', () => {
  let stack: StateStack;
  let client: StateTestClient;
  let alloc: AllocatorTestClient;

  beforeAll(async () => {
    stack = await StateStack.start({ repairIntervalMs: REPAIR_MS });
    ({ client, alloc } = stack);
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('concurrent creates of one name: one wins, the losers release what they allocated', async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 6 }, () => client.createService(wireService({ name: 'race', type: 'NodePort', ports: [{ port: 80 }] }))),
    );
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(won).toHaveLength(1);
    for (const r of lost) expect((r.reason as ServiceError).code).toBe(status.ALREADY_EXISTS);
    // Right away, not after a repair pass: the rollback released the losers' IPs and ports.
    const mine = (await alloc.list()).filter((a) => a.owner === 'default/race');
    expect(mine.map((a) => a.kind).sort()).toEqual([1, 2]);
    expect(await consistency(client, alloc)).toEqual({ orphans: [], unallocated: [] });
    await client.deleteService('default', 'race');
  });

  it('killing the allocator mid-create leaves no orphan once it is back', async () => {
    const creates = Array.from({ length: 30 }, (_, i) =>
      client.createService(wireService({ namespace: 'burst', name: `s${i}`, type: 'NodePort', ports: [{ name: 'a', port: 80 }, { name: 'b', port: 81 }] })),
    );
    await new Promise((r) => setTimeout(r, 40));
    await stack.allocator.kill('SIGKILL');
    const results = await Promise.allSettled(creates);
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    for (const f of failed) expect((f.reason as ServiceError).code, String(f.reason)).toBe(status.UNAVAILABLE);
    // While the allocator is down, creates fail cleanly.
    expect((await grpcError(client.createService(wireService({ namespace: 'burst', name: 'down' })))).code).toBe(status.UNAVAILABLE);
    expect((await grpcError(client.getService('burst', 'down'))).code).toBe(status.NOT_FOUND);

    await stack.restartAllocator();
    alloc = stack.alloc;
    // Leaks (allocated, then the allocator died before the rest) go after a few repair passes.
    const final = await eventually(() => consistency(client, alloc), (c) => c.orphans.length === 0 && c.unallocated.length === 0, 30_000);
    expect(final).toEqual({ orphans: [], unallocated: [] });
    const made = (await client.listServices({ namespace: 'burst' })).items.length;
    expect(made).toBe(results.length - failed.length);
    for (const s of (await client.listServices({ namespace: 'burst' })).items) await client.deleteService('burst', s.metadata!.name);
  });

  it('the repair loop releases an allocation nobody owns and reports IPs the allocator does not know', async () => {
    const ghost = await alloc.allocateClusterIp('default/ghost');
    await eventually(() => alloc.list(), (l) => !l.some((a) => a.owner === 'default/ghost'), 30_000);
    // The service logs asynchronously (pino, sync: false): the line may follow the release by a moment.
    await eventually(async () => stack.state.logs(), (l) => l.split('\n').some((line) => line.includes('released a leaked allocation') && line.includes(ghost.ip)), 5_000);

    const s = await client.createService(wireService({ name: 'lost-ip' }));
    await alloc.releaseClusterIp(s.spec!.clusterIp, 'default/lost-ip');
    await eventually(async () => stack.state.logs(), (l) => l.includes(`the cluster IP ${s.spec!.clusterIp} of service default/lost-ip is not allocated to it`), 30_000);
    await client.deleteService('default', 'lost-ip');
  });

  it('two state replicas updating one service concurrently lose nothing', async () => {
    const second = await startState({ natsUrl: stack.nats.url, allocatorUrl: stack.allocator.address });
    const other = new StateTestClient(second.address);
    try {
      await client.createService(wireService({ name: 'shared' }));
      // Each replica adds its own labels with read-modify-write, retrying on conflict.
      const addLabels = async (c: StateTestClient, prefix: string): Promise<number> => {
        let conflicts = 0;
        for (let i = 0; i < 10; i++) {
          for (;;) {
            const cur = await c.getService('default', 'shared');
            try {
              await c.updateService({ ...cur, metadata: { ...cur.metadata!, labels: { ...cur.metadata!.labels, [`${prefix}${i}`]: 'x' } } });
              break;
            } catch (err) {
              if ((err as ServiceError).code !== status.ABORTED) throw err;
              conflicts++;
            }
          }
        }
        return conflicts;
      };
      const [ca, cb] = await Promise.all([addLabels(client, 'a'), addLabels(other, 'b')]);
      const final = await client.getService('default', 'shared');
      expect(Object.keys(final.metadata!.labels).sort()).toEqual([
        ...Array.from({ length: 10 }, (_, i) => `a${i}`),
        ...Array.from({ length: 10 }, (_, i) => `b${i}`),
      ].sort());
      // Not asserted >0 (timing), but reported: conflicts are how nothing got lost.
      console.log(`replica conflicts retried: ${ca} + ${cb}`);
      await client.deleteService('default', 'shared');
    } finally {
      other.close();
      await second.kill();
    }
  });
});
