import { describe, expect, it } from 'vitest';
import { Proxier } from '@svcnet/proxy-core';
import { FakeClock, FakeProxyBackend } from '@svcnet/proxy-core/testing';
import type { Service } from '@svcnet/model';
import { evaluateHealth, type ProgrammingStatus } from './healthz.js';

const T0 = 1_700_000_000_000;

describe('evaluateHealth (kube-proxy healthz, timeout = 2 × sync period)', () => {
  const timeoutMs = 2000;
  const cases: { name: string; status: ProgrammingStatus; now: number; healthy: boolean; feedDownSince?: number; reason?: RegExp }[] = [
    { name: 'nothing pending, never synced (no work yet)', status: { pendingSince: undefined, lastSyncAt: undefined }, now: T0, healthy: true },
    { name: 'initial sync pending within timeout', status: { pendingSince: T0, lastSyncAt: undefined }, now: T0 + 2000, healthy: true },
    { name: 'initial sync pending beyond timeout', status: { pendingSince: T0, lastSyncAt: undefined }, now: T0 + 2001, healthy: false },
    { name: 'recent sync, nothing pending', status: { pendingSince: undefined, lastSyncAt: T0 }, now: T0 + 1500, healthy: true },
    { name: 'periodic syncs stopped', status: { pendingSince: undefined, lastSyncAt: T0 }, now: T0 + 2500, healthy: false },
    { name: 'change pending too long despite a recent sync', status: { pendingSince: T0, lastSyncAt: T0 + 1900 }, now: T0 + 2100, healthy: false },
    { name: 'feed down shorter than the sync period', status: { pendingSince: undefined, lastSyncAt: T0 + 1000 }, now: T0 + 1500, healthy: true, feedDownSince: T0 + 600 },
    {
      name: 'feed down longer than the sync period',
      status: { pendingSince: undefined, lastSyncAt: T0 + 1400 },
      now: T0 + 1500,
      healthy: false,
      feedDownSince: T0 + 400,
      reason: /change feed \(NATS\) has been disconnected/,
    },
  ];
  it.each(cases)('$name', ({ status, now, healthy, feedDownSince, reason }) => {
    const r = evaluateHealth({ status, now, timeoutMs, nodeName: 'node1', feed: { downSince: feedDownSince, timeoutMs: timeoutMs / 2 } });
    expect(r.healthy).toBe(healthy);
    expect(r.feedConnected).toBe(feedDownSince === undefined);
    if (reason) expect(r.reason).toMatch(reason);
    expect(r.nodeName).toBe('node1');
    expect(r.currentTime).toBe(new Date(now).toISOString());
    expect(r.lastUpdated).toBe(new Date(status.lastSyncAt ?? 0).toISOString());
  });
});

function service(name: string, clusterIP: string): Service {
  return {
    metadata: { namespace: 'default', name, uid: name, labels: {}, annotations: {}, resourceVersion: 1 },
    spec: {
      type: 'ClusterIP',
      clusterIP,
      clusterIPs: [clusterIP],
      ipFamilies: ['IPv4'],
      ports: [{ name: '', protocol: 'TCP', port: 80, targetPort: 8080, nodePort: 0 }],
      selector: { app: name },
      sessionAffinity: 'None',
      sessionAffinityTimeoutSeconds: 0,
      externalTrafficPolicy: 'Cluster',
      internalTrafficPolicy: 'Cluster',
      externalIPs: [],
    },
  };
}

describe('health of a real Proxier driven by a fake clock', () => {
  const syncPeriodMs = 1000;
  const timeoutMs = 2 * syncPeriodMs;

  function setup() {
    const clock = new FakeClock(T0);
    const backend = new FakeProxyBackend();
    const proxier = new Proxier({
      backend,
      config: { nodeName: 'node1', nodeIPs: ['192.168.77.11'], clusterCIDR: '10.244.0.0/16', masqueradeAll: false, nodePortAddresses: [] },
      clock,
      minSyncPeriodMs: 100,
      syncPeriodMs,
    });
    const health = () => evaluateHealth({ status: proxier.status(), now: clock.now(), timeoutMs, nodeName: 'node1' });
    return { clock, backend, proxier, health };
  }

  const scenarios: { name: string; failApplies: number; syncedAfterMs: number; checkAtMs: number; healthy: boolean }[] = [
    { name: 'initial lists never arrive', failApplies: 0, syncedAfterMs: Infinity, checkAtMs: 2500, healthy: false },
    { name: 'synced promptly and idle for many periods', failApplies: 0, syncedAfterMs: 0, checkAtMs: 10_000, healthy: true },
    { name: 'every apply fails', failApplies: 1000, syncedAfterMs: 0, checkAtMs: 2500, healthy: false },
    { name: 'applies fail briefly, then recover', failApplies: 1, syncedAfterMs: 0, checkAtMs: 5000, healthy: true },
  ];

  it.each(scenarios)('$name', async ({ failApplies, syncedAfterMs, checkAtMs, healthy }) => {
    const { clock, backend, proxier, health } = setup();
    backend.failNext = failApplies;
    proxier.start();
    proxier.onServiceUpsert(service('web', '10.96.0.10'));
    if (syncedAfterMs !== Infinity) {
      await clock.advance(syncedAfterMs);
      proxier.onSynced();
    }
    await clock.advance(checkAtMs - (syncedAfterMs === Infinity ? 0 : syncedAfterMs));
    expect(health().healthy).toBe(healthy);
    await proxier.stop();
  });

  it('a change stuck behind failing applies turns unhealthy after 2× sync period, healthy again once programmed', async () => {
    const { clock, backend, proxier, health } = setup();
    proxier.start();
    proxier.onSynced();
    await clock.advance(200);
    expect(health().healthy).toBe(true);
    backend.failNext = 1000;
    proxier.onServiceUpsert(service('api', '10.96.0.11'));
    await clock.advance(1500);
    expect(health().healthy).toBe(true);
    await clock.advance(1000);
    expect(health().healthy).toBe(false);
    backend.failNext = 0;
    await clock.advance(1500);
    expect(health().healthy).toBe(true);
    expect(backend.applied.at(-1)?.services.map((s) => s.id)).toContain('default/api:');
    await proxier.stop();
  });
});
