import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import { startNatsServer, type NatsServerHandle } from '@svcnet/testing';
import { grpcError, healthStatus, httpGet, metricValue, startAllocator, type AllocatorProcess } from './harness.js';

describe('NATS goes away and comes back', () => {
  let nats: NatsServerHandle;
  let alloc: AllocatorProcess;

  beforeAll(async () => {
    nats = await startNatsServer();
    alloc = await startAllocator({ natsUrl: nats.url, args: ['--service-cluster-ip-range', '10.40.0.0/24'] });
  });
  afterAll(async () => {
    await alloc?.kill();
    await nats?.cleanup();
  });

  it('fails fast with UNAVAILABLE while NATS is down, then recovers with every allocation kept', async () => {
    const c = alloc.client;
    const kept = await c.allocateClusterIp({ owner: 'default/kept' });
    const port = await c.allocateNodePort({ owner: 'default/kept' });
    expect(await healthStatus(c.address, 'svcnet.v1.Allocator')).toBe('SERVING');

    await nats.kill();
    const cases = [
      { name: 'AllocateClusterIP', call: () => c.allocateClusterIp({ owner: 'default/down' }) },
      { name: 'AllocateClusterIP requested', call: () => c.allocateClusterIp({ owner: 'default/down', requestedIp: '10.40.0.9' }) },
      { name: 'AllocateNodePort', call: () => c.allocateNodePort({ owner: 'default/down' }) },
      { name: 'ReleaseClusterIP', call: () => c.releaseClusterIp({ owner: 'default/kept', ip: kept.ip }) },
    ];
    for (const tc of cases) {
      const started = Date.now();
      // A deadline well above the store timeout: failing fast is the allocator's doing, not the client's.
      const err = await grpcError(tc.call());
      const elapsed = Date.now() - started;
      expect({ name: tc.name, code: err.code }).toEqual({ name: tc.name, code: status.UNAVAILABLE });
      expect(elapsed, tc.name).toBeLessThan(3000);
    }

    expect(await healthStatus(c.address, 'svcnet.v1.Allocator')).toBe('NOT_SERVING');
    expect(await httpGet(alloc.metricsPort, '/healthz')).toEqual({ status: 503, body: 'not connected to NATS\n' });
    expect(metricValue((await httpGet(alloc.metricsPort, '/metrics')).body, 'svcnet_allocator_store_available')).toBe(0);
    expect((await httpGet(alloc.metricsPort, '/livez')).status).toBe(200);

    await nats.restart();
    await expect
      .poll(
        async () => {
          try {
            return (await c.allocateClusterIp({ owner: 'default/back' }, 2000)).ip;
          } catch {
            return undefined;
          }
        },
        { timeout: 20_000, interval: 200 },
      )
      .toMatch(/^10\.40\.0\./);

    await expect.poll(() => healthStatus(c.address, 'svcnet.v1.Allocator'), { timeout: 10_000 }).toBe('SERVING');
    expect((await httpGet(alloc.metricsPort, '/healthz')).status).toBe(200);
    const list = await c.listAllocations({ owner: 'default/kept' });
    expect(list.allocations.map((a) => a.value).sort()).toEqual([kept.ip, String(port.port)].sort());
    // The watch resumed too: what another replica allocates now shows up in this one's cache.
    const other = await startAllocator({ natsUrl: nats.url, args: ['--service-cluster-ip-range', '10.40.0.0/24'] });
    try {
      const seen = await other.client.allocateClusterIp({ owner: 'default/from-other' });
      await expect
        .poll(async () => (await c.listAllocations({ owner: 'default/from-other' })).allocations.map((a) => a.value), { timeout: 10_000 })
        .toEqual([seen.ip]);
    } finally {
      await other.kill();
    }
    // A release is seen and the IP can be had again.
    expect(await c.releaseClusterIp({ owner: 'default/kept', ip: kept.ip })).toEqual({ released: true });
    expect((await c.allocateClusterIp({ owner: 'default/again', requestedIp: kept.ip })).ip).toBe(kept.ip);
  });
});
