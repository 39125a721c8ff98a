import type { Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { Counter, Registry } from 'prom-client';
import type { HealthReport } from './healthz.js';
import { closeServer, listen, registerProbeCounters } from './http-server.js';

const report = (healthy: boolean): HealthReport => ({
  healthy,
  lastUpdated: '2026-01-01T00:00:00.000Z',
  currentTime: '2026-01-01T00:00:01.000Z',
  nodeName: 'node1',
  feedConnected: true,
});

describe('agent HTTP endpoints', () => {
  let server: Server | undefined;
  afterEach(async () => {
    if (server) await closeServer(server);
    server = undefined;
  });

  async function start(opts: { healthy: boolean; plan?: string; withDebug: boolean }): Promise<string> {
    const registry = new Registry();
    new Counter({ name: 'kubeproxy_sync_proxy_rules_iptables_restore_failures_total', help: 'h', registers: [registry] });
    server = await listen(
      { host: '127.0.0.1', port: 0 },
      {
        health: () => report(opts.healthy),
        ...(opts.withDebug ? { registry, proxyMode: 'nftables', debug: { plan: () => opts.plan, state: () => ({ services: 1 }) } } : {}),
      },
    );
    const addr = server.address();
    if (!addr || typeof addr === 'string') throw new Error('no address');
    return `http://127.0.0.1:${addr.port}`;
  }

  const cases: { name: string; healthy: boolean; plan?: string; withDebug: boolean; path: string; status: number; body: RegExp }[] = [
    { name: 'healthz healthy', healthy: true, withDebug: false, path: '/healthz', status: 200, body: /"nodeName":"node1"/ },
    { name: 'healthz stalled', healthy: false, withDebug: false, path: '/healthz', status: 503, body: /"lastUpdated"/ },
    { name: 'livez follows health', healthy: false, withDebug: false, path: '/livez', status: 503, body: /currentTime/ },
    { name: 'metrics absent on the healthz listener', healthy: true, withDebug: false, path: '/metrics', status: 404, body: /not found/ },
    { name: 'metrics in Prometheus text', healthy: true, withDebug: true, path: '/metrics', status: 200, body: /kubeproxy_sync_proxy_rules_iptables_restore_failures_total 0/ },
    { name: 'plan before the first sync', healthy: true, withDebug: true, path: '/debug/plan', status: 503, body: /no plan/ },
    { name: 'plan text', healthy: true, plan: '*nat\n:KUBE-SERVICES - [0:0]\nCOMMIT', withDebug: true, path: '/debug/plan', status: 200, body: /KUBE-SERVICES/ },
    { name: 'state as JSON', healthy: true, withDebug: true, path: '/debug/state', status: 200, body: /"services": 1/ },
    { name: 'unknown path', healthy: true, withDebug: true, path: '/nope', status: 404, body: /not found/ },
    { name: 'proxyMode on the metrics listener', healthy: true, withDebug: true, path: '/proxyMode', status: 200, body: /^nftables$/ },
    { name: 'proxyMode absent on the healthz listener', healthy: true, withDebug: false, path: '/proxyMode', status: 404, body: /not found/ },
  ];
  it.each(cases)('$name', async ({ healthy, plan, withDebug, path, status, body }) => {
    const base = await start({ healthy, withDebug, ...(plan !== undefined ? { plan } : {}) });
    const res = await fetch(`${base}${path}`);
    expect(res.status).toBe(status);
    expect(await res.text()).toMatch(body);
  });

  it('counts probe answers by code (kubeproxy_proxy_healthz_total, kubeproxy_proxy_livez_total)', async () => {
    const registry = new Registry();
    let healthy = true;
    server = await listen({ host: '127.0.0.1', port: 0 }, { health: () => report(healthy), registry, probes: registerProbeCounters(registry) });
    const addr = server.address();
    if (!addr || typeof addr === 'string') throw new Error('no address');
    const base = `http://127.0.0.1:${addr.port}`;
    await fetch(`${base}/healthz`);
    await fetch(`${base}/healthz`);
    healthy = false;
    await fetch(`${base}/healthz`);
    await fetch(`${base}/livez`);
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toMatch(/kubeproxy_proxy_healthz_total\{code="200"\} 2/);
    expect(text).toMatch(/kubeproxy_proxy_healthz_total\{code="503"\} 1/);
    expect(text).toMatch(/kubeproxy_proxy_livez_total\{code="503"\} 1/);
  });

  it('healthz body has no "healthy" field (kube-proxy shape)', async () => {
    const base = await start({ healthy: true, withDebug: false });
    const json = (await (await fetch(`${base}/healthz`)).json()) as Record<string, unknown>;
    expect(Object.keys(json).sort()).toEqual(['currentTime', 'feedConnected', 'lastUpdated', 'nodeName']);
  });

  it('refuses other methods', async () => {
    const base = await start({ healthy: true, withDebug: false });
    expect((await fetch(`${base}/healthz`, { method: 'POST' })).status).toBe(405);
  });
});
