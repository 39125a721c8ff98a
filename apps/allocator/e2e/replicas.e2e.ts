import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServerHandle } from '@svcnet/testing';
import { startAllocator, type AllocatorProcess } from './harness.js';

const RANGE = '10.32.0.0/20'; // 4094 usable: 2,000 requests fill about half of it
// Generous: on a 2-core box shared with other test runs a burst of 2,000 can queue for a while.
const LOADED_DEADLINE_MS = 90_000;
const ARGS = ['--service-cluster-ip-range', RANGE, '--service-node-port-range', '30000-32767'];

describe('3 allocator replicas on one NATS', () => {
  let nats: NatsServerHandle;
  let replicas: AllocatorProcess[] = [];

  beforeAll(async () => {
    nats = await startNatsServer();
    replicas = await Promise.all([0, 1, 2].map(() => startAllocator({ natsUrl: nats.url, args: ARGS })));
  });
  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.kill()));
    await nats?.cleanup();
  });

  it('2,000 concurrent ClusterIP requests plus 300 NodePort requests: all served, 0 duplicates', async () => {
    const ips = await Promise.all(
      Array.from({ length: 2000 }, (_, i) => replicas[i % 3]!.client.allocateClusterIp({ owner: `load/svc-${i}` }, LOADED_DEADLINE_MS)),
    );
    const ports = await Promise.all(
      Array.from({ length: 300 }, (_, i) => replicas[i % 3]!.client.allocateNodePort({ owner: `load/svc-${i}` })),
    );
    const ipValues = ips.map((r) => r.ip);
    const portValues = ports.map((r) => r.port);
    expect(ipValues.length - new Set(ipValues).size).toBe(0);
    expect(portValues.length - new Set(portValues).size).toBe(0);
    expect(ipValues.every((ip) => ip.startsWith('10.32.'))).toBe(true);
    // Every replica's cache converges on the same 2,000 + 1,000 allocations.
    for (const r of replicas) {
      await expect
        .poll(async () => (await r.client.getStatus()).ranges.map((s) => s.used), { timeout: 10_000 })
        .toEqual(['2000', '300']);
    }
  });

  it('kill -9 and restart keeps every allocation', async () => {
    const before = await replicas[0]!.client.listAllocations({});
    expect(before.allocations).toHaveLength(2300);
    const victim = replicas[1]!;
    await victim.kill('SIGKILL');
    replicas[1] = await startAllocator({ natsUrl: nats.url, args: ARGS, port: victim.port });
    const after = await replicas[1].client.listAllocations({});
    const key = (a: { kind: number; value: string; owner: string }) => `${a.kind} ${a.value} ${a.owner}`;
    expect(after.allocations.map(key).sort()).toEqual(before.allocations.map(key).sort());
    // And it keeps allocating without handing out anything already held.
    const more = await Promise.all(Array.from({ length: 50 }, (_, i) => replicas[1]!.client.allocateClusterIp({ owner: `after/svc-${i}` })));
    const held = new Set(before.allocations.map((a) => a.value));
    expect(more.filter((m) => held.has(m.ip))).toEqual([]);
  });
});
