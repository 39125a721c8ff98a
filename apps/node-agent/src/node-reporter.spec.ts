import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { Proxier } from '@svcnet/proxy-core';
import { buildEndpoints, buildService, FakeClock, FakeProxyBackend } from '@svcnet/proxy-core/testing';
import type { NodeStatus } from '@svcnet/model';
import type { StoreConnection } from '@svcnet/store';
import { KEPT_SYNC_ERRORS, NodeReporter, type StatusSink } from './node-reporter.js';

const config = { nodeName: 'n1', nodeIPs: ['192.168.1.1'], clusterCIDR: '10.244.0.0/16', masqueradeAll: false, nodePortAddresses: [] };

/** A reporter observing a real Proxier (fake backend and clock), with a sink that records what it was told. */
function setup() {
  const clock = new FakeClock(1_000_000);
  const backend = new FakeProxyBackend();
  const told = { programmed: [] as number[], reports: 0 };
  let feedRevision = 0;
  const holder: { proxier?: Proxier<unknown> } = {};
  const reporter = new NodeReporter({
    nodeName: 'n1',
    nodeIPs: ['192.168.1.1'],
    proxyMode: 'iptables',
    version: 'test',
    intervalMs: 10_000,
    clock,
    feedRevision: () => feedRevision,
    programmingIdle: () => holder.proxier!.idle(),
    counts: () => holder.proxier!.status().counts,
    health: () => ({ healthy: true, feedConnected: true, lastUpdated: '', currentTime: '', nodeName: 'n1' }),
    logger: pino({ level: 'silent' }),
    sink: (_c, _status: () => NodeStatus): StatusSink => ({
      start: () => undefined,
      stop: async () => undefined,
      noteProgrammed: (r) => void told.programmed.push(r),
      reportNow: () => void told.reports++,
    }),
  });
  const proxier = new Proxier<unknown>({ backend, config, clock, minSyncPeriodMs: 100, syncPeriodMs: 30_000, observer: reporter });
  holder.proxier = proxier;
  reporter.start({} as StoreConnection);
  return {
    clock,
    backend,
    proxier,
    reporter,
    told,
    /** Records arrive: the agent hands them to the proxier, then tells the reporter the feed moved. */
    receive(revision: number, apply: () => void) {
      feedRevision = revision;
      apply();
      reporter.onFeedRevision();
    },
  };
}

describe('NodeReporter: the programmed revision', () => {
  it('is the feed revision a successful sync drained, never what merely arrived', async () => {
    const t = setup();
    t.proxier.start();
    t.receive(10, () => t.proxier.onServiceUpsert(buildService({ name: 'a' })));
    expect(t.reporter.programmedRevision).toBe(0); // received, not programmed: the initial lists are not in
    t.proxier.onSynced();
    await t.clock.advance(0);
    expect(t.reporter.programmedRevision).toBe(10);
    t.receive(12, () => t.proxier.onEndpointsUpsert(buildEndpoints({ name: 'a', addresses: ['10.244.1.2@n1'] })));
    expect(t.reporter.programmedRevision).toBe(10); // queued for the next sync
    await t.clock.advance(100);
    expect(t.reporter.programmedRevision).toBe(12);
    expect(t.reporter.status()).toMatchObject({ programmedRevision: 12, feedRevision: 12, counts: { services: 1, servicePorts: 1, endpoints: 1 } });
    await t.proxier.stop();
  });

  it('moves with the feed when a change needs no rule (nothing waits to be programmed)', async () => {
    const t = setup();
    t.proxier.start();
    t.receive(5, () => t.proxier.onServiceUpsert(buildService({ name: 'a' })));
    t.proxier.onSynced();
    await t.clock.advance(0);
    // A pod record, or a service write that changes nothing the proxier tracks.
    t.receive(9, () => t.proxier.onServiceUpsert(buildService({ name: 'a' })));
    expect(t.reporter.programmedRevision).toBe(9);
    expect(t.told.programmed.at(-1)).toBe(9);
    await t.proxier.stop();
  });

  it('does not move past a failed apply; keeps the newest errors and reports the flip at once', async () => {
    const t = setup();
    t.proxier.start();
    t.proxier.onSynced();
    await t.clock.advance(0);
    const reportsBefore = t.told.reports;
    t.backend.failNext = KEPT_SYNC_ERRORS + 2;
    t.receive(20, () => t.proxier.onServiceUpsert(buildService({ name: 'b' })));
    for (let i = 0; i < KEPT_SYNC_ERRORS + 2; i++) await t.clock.advance(1000);
    expect(t.reporter.programmedRevision).toBeLessThan(20);
    const status = t.reporter.status();
    expect(status.lastSync).toMatchObject({ ok: false });
    expect(status.lastSyncErrors).toHaveLength(KEPT_SYNC_ERRORS);
    expect(status.lastSyncErrors[0]!.at.getTime()).toBeGreaterThan(status.lastSyncErrors[1]!.at.getTime());
    expect(t.told.reports).toBeGreaterThan(reportsBefore);
    await t.clock.advance(1000); // the fake backend recovers
    expect(t.reporter.programmedRevision).toBe(20);
    expect(t.reporter.status().lastSync).toMatchObject({ ok: true });
    await t.proxier.stop();
  });
});
