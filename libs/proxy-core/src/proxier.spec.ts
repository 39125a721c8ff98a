import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { buildEndpoints, buildService } from './builders.js';
import { FakeClock } from './clock.js';
import { FakeProxyBackend } from './fake-backend.js';
import { Proxier } from './proxier.js';
import type { NodeConfig } from './types.js';

const config: NodeConfig = { nodeName: 'n1', nodeIPs: ['192.168.1.1'], clusterCIDR: '10.244.0.0/16', masqueradeAll: false, nodePortAddresses: [] };

function setup() {
  const clock = new FakeClock(1_000_000);
  const backend = new FakeProxyBackend();
  const registry = new Registry();
  const proxier = new Proxier({ backend, config, clock, minSyncPeriodMs: 100, syncPeriodMs: 30_000, metrics: registry });
  return { clock, backend, registry, proxier };
}

async function metric(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  const v = m?.values.find((x) => Object.entries(labels).every(([k, l]) => x.labels[k] === l) && !('le' in x.labels));
  return v?.value;
}

describe('Proxier', () => {
  it('does not sync before the initial lists are synced, then syncs fully', async () => {
    const { clock, backend, proxier } = setup();
    proxier.start();
    proxier.onServiceUpsert(buildService({ name: 'a' }));
    proxier.onEndpointsUpsert(buildEndpoints({ name: 'a', addresses: ['10.244.1.2@n1'] }));
    await clock.advance(1000);
    expect(backend.applied).toHaveLength(0);
    proxier.onSynced();
    await clock.advance(0);
    expect(backend.applied).toHaveLength(1);
    expect(backend.applied[0]!.full).toBe(true);
    expect(backend.applied[0]!.endpoints['default/a:']).toHaveLength(1);
    await proxier.stop();
  });

  it('coalesces changes into partial syncs at the min interval with the changed ids', async () => {
    const { clock, backend, proxier } = setup();
    proxier.start();
    proxier.onSynced();
    await clock.advance(0);
    proxier.onServiceUpsert(buildService({ name: 'a' }));
    proxier.onServiceUpsert(buildService({ name: 'b', clusterIP: '10.96.0.11' }));
    await clock.advance(50);
    expect(backend.applied).toHaveLength(1);
    await clock.advance(50);
    expect(backend.applied).toHaveLength(2);
    expect(backend.applied[1]).toMatchObject({ full: false, changed: ['default/a:', 'default/b:'] });
    proxier.onServiceDelete('default', 'a');
    await clock.advance(100);
    expect(backend.applied[2]).toMatchObject({ full: false, changed: ['default/a:'] });
    expect(backend.applied[2]!.services.map((s) => s.id)).toEqual(['default/b:']);
    await proxier.stop();
  });

  it('counts a failed apply, retries, and makes the next sync full', async () => {
    const { clock, backend, registry, proxier } = setup();
    proxier.start();
    proxier.onSynced();
    await clock.advance(0);
    backend.failNext = 1;
    proxier.onServiceUpsert(buildService({ name: 'a' }));
    await clock.advance(100);
    expect(backend.applied).toHaveLength(1);
    expect(proxier.status()).toMatchObject({ totalFailures: 1, consecutiveFailures: 1 });
    expect(await metric(registry, 'svcnet_sync_proxy_rules_apply_failures_total')).toBe(1);
    // Only a backend that runs iptables-restore reports its failures (through the observer).
    expect(await metric(registry, 'kubeproxy_sync_proxy_rules_iptables_restore_failures_total')).toBe(0);
    expect(backend.renders.at(-1)!.lastApplied).toBeDefined();
    await clock.advance(1000);
    expect(backend.applied).toHaveLength(2);
    expect(backend.applied[1]).toMatchObject({ full: true, changed: ['default/a:'] });
    expect(backend.renders.at(-1)!.lastApplied).toBeUndefined();
    expect(proxier.status().consecutiveFailures).toBe(0);
    await proxier.stop();
  });

  it('checks drift at the max interval and resyncs fully when found', async () => {
    const { clock, backend, registry, proxier } = setup();
    proxier.start();
    proxier.onSynced();
    await clock.advance(0);
    await clock.advance(30_000);
    expect(backend.driftChecks).toBe(1);
    expect(backend.applied).toHaveLength(1);
    backend.drift = true;
    await clock.advance(30_000);
    expect(backend.driftChecks).toBe(2);
    expect(backend.applied).toHaveLength(2);
    expect(backend.applied[1]!.full).toBe(true);
    expect(await metric(registry, 'svcnet_sync_proxy_rules_drift_detected_total')).toBe(1);
    await proxier.stop();
  });

  it('checks drift once per sync period even while changes keep coming', async () => {
    const { clock, backend, proxier } = setup();
    proxier.start();
    proxier.onSynced();
    await clock.advance(0);
    // A change every 10 s (sync period 30 s): the loop never has a run with nothing to do.
    const change = async (i: number) => {
      proxier.onServiceUpsert(buildService({ name: `s${i}`, clusterIP: `10.96.0.${20 + i}` }));
      await clock.advance(10_000);
    };
    for (let i = 0; i < 3; i++) await change(i);
    expect(backend.driftChecks).toBe(0);
    await change(3); // 30 s after the full sync: checked before this partial sync
    expect(backend.driftChecks).toBe(1);
    expect(backend.applied.map((a) => a.full)).toEqual([true, false, false, false, false]);
    backend.drift = true;
    for (let i = 4; i < 7; i++) await change(i);
    expect(backend.driftChecks).toBe(2);
    expect(backend.applied.slice(5).map((a) => a.full)).toEqual([false, false, true]);
    await proxier.stop();
  });

  it('reports unhealthy when programming stalls beyond 2x the sync period', async () => {
    const { clock, backend, proxier } = setup();
    proxier.start();
    proxier.onSynced();
    await clock.advance(0);
    expect(proxier.status().healthy).toBe(true);
    backend.failNext = 1000;
    proxier.onServiceUpsert(buildService({ name: 'a' }));
    await clock.advance(59_000);
    expect(proxier.status().healthy).toBe(true);
    await clock.advance(2_000);
    expect(proxier.status()).toMatchObject({ healthy: false });
    expect(proxier.status().lastError).toContain('scripted failure');
    backend.failNext = 0;
    await clock.advance(1_000);
    expect(proxier.status().healthy).toBe(true);
    await proxier.stop();
  });

  it('exports kube-proxy metrics: changes, pending, programming latency, no local endpoints', async () => {
    const { clock, registry, proxier } = setup();
    proxier.start();
    proxier.onSynced();
    await clock.advance(0);
    const changed = new Date(clock.now() - 500);
    proxier.onServiceUpsert(buildService({ name: 'w', type: 'NodePort', externalTrafficPolicy: 'Local', changeTimestamp: changed, ports: [{ nodePort: 30001 }] }));
    proxier.onEndpointsUpsert(buildEndpoints({ name: 'w', addresses: ['10.244.2.2@n2'], changeTimestamp: changed }));
    expect(await metric(registry, 'kubeproxy_sync_proxy_rules_service_changes_pending')).toBe(1);
    expect(await metric(registry, 'kubeproxy_sync_proxy_rules_endpoint_changes_total')).toBe(1);
    const queuedAt = clock.now() / 1000;
    expect(await metric(registry, 'kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds')).toBe(queuedAt);
    await clock.advance(100);
    expect(await metric(registry, 'kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds')).toBe(queuedAt);
    expect(await metric(registry, 'kubeproxy_sync_proxy_rules_service_changes_pending')).toBe(0);
    const hist = (await registry.getMetricsAsJSON()).find((m) => m.name === 'kubeproxy_network_programming_duration_seconds')!;
    const count = hist.values.find((v) => (v as { metricName?: string }).metricName === 'kubeproxy_network_programming_duration_seconds_count')!;
    const sum = hist.values.find((v) => (v as { metricName?: string }).metricName === 'kubeproxy_network_programming_duration_seconds_sum')!;
    expect(count.value).toBe(2);
    expect(sum.value).toBeCloseTo(1.2, 5);
    expect(await metric(registry, 'kubeproxy_sync_proxy_rules_no_local_endpoints_total', { traffic_policy: 'External' })).toBe(1);
    expect(await metric(registry, 'kubeproxy_sync_proxy_rules_last_timestamp_seconds')).toBe(clock.now() / 1000);
    await proxier.stop();
  });

  it('syncNow serializes with the loop and lastPlan returns the applied plan', async () => {
    const { backend, proxier } = setup();
    proxier.onSynced();
    proxier.onServiceUpsert(buildService({ name: 'a' }));
    // The second call waits for the first; with nothing changed it only checks for drift.
    await Promise.all([proxier.syncNow(), proxier.syncNow()]);
    expect(backend.applied).toHaveLength(1);
    expect(backend.driftChecks).toBe(1);
    proxier.onServiceUpsert(buildService({ name: 'b', clusterIP: '10.96.0.12' }));
    await proxier.syncNow();
    expect(backend.applied).toHaveLength(2);
    expect(backend.applied[1]!.full).toBe(false);
    expect(proxier.lastPlan()).toBe(backend.applied[1]);
  });

  it('tells an observer what each sync covered: the mark at the drain, ok or failed; idle only when all is programmed', async () => {
    const clock = new FakeClock(1_000_000);
    const backend = new FakeProxyBackend();
    let revision = 0;
    const outcomes: string[] = [];
    const proxier = new Proxier({
      backend,
      config,
      clock,
      minSyncPeriodMs: 100,
      syncPeriodMs: 30_000,
      observer: { onSyncStart: () => revision, onSyncEnd: (o) => void outcomes.push(`${o.mark} ${o.ok ? 'ok' : `failed: ${o.error}`}${o.full ? ' full' : ''}`) },
    });
    proxier.start();
    expect(proxier.idle()).toBe(false); // nothing synced yet
    revision = 3;
    proxier.onServiceUpsert(buildService({ name: 'a' }));
    proxier.onEndpointsUpsert(buildEndpoints({ name: 'a', addresses: ['10.244.1.2@n1', '10.244.2.2@n2'] }));
    proxier.onSynced();
    await clock.advance(0);
    expect(outcomes).toEqual(['3 ok full']);
    expect(proxier.idle()).toBe(true);
    expect(proxier.status().counts).toEqual({ services: 1, servicePorts: 1, endpoints: 2 });

    revision = 5;
    backend.failNext = 1;
    proxier.onServiceUpsert(buildService({ name: 'b', clusterIP: '10.96.0.11' }));
    expect(proxier.idle()).toBe(false); // a change is queued
    await clock.advance(100);
    expect(outcomes.at(-1)).toMatch(/^5 failed: /);
    expect(proxier.idle()).toBe(false); // a failed apply leaves the node unprogrammed
    revision = 6; // the retry covers whatever arrived since
    await clock.advance(1000);
    expect(outcomes.at(-1)).toBe('6 ok full');
    expect(proxier.idle()).toBe(true);
    // A change the trackers find to be the same object queues nothing: still idle.
    proxier.onServiceUpsert(buildService({ name: 'b', clusterIP: '10.96.0.11' }));
    expect(proxier.idle()).toBe(true);
    await proxier.stop();
  });
});
