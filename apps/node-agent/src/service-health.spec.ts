import { afterEach, describe, expect, it } from 'vitest';
import { buildEndpoint, buildProxyState, buildServicePort } from '@svcnet/proxy-core/testing';
import { healthCheckHosts, healthCheckResponse, healthCheckTargets, ServiceHealthServer } from './service-health.js';

const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

describe('healthCheckTargets', () => {
  it('counts this node\'s ready endpoints per health check port (distinct addresses over the ports; terminating ones do not count)', () => {
    const lb = (portName: string) => buildServicePort({ name: 'lb', portName, clusterIP: '10.96.0.9', port: 80, healthCheckNodePort: 32000 });
    const state = buildProxyState([
      [lb('http'), [buildEndpoint('10.244.1.2', 8080, { isLocal: true }), buildEndpoint('10.244.2.2', 8080)]],
      [lb('https'), [buildEndpoint('10.244.1.2', 8443, { isLocal: true }), buildEndpoint('10.244.1.3', 8443, { isLocal: true, ready: false, terminating: true })]],
      [buildServicePort({ name: 'plain', clusterIP: '10.96.0.10', port: 80 }), [buildEndpoint('10.244.1.9', 80, { isLocal: true })]],
    ]);
    expect([...healthCheckTargets(state)]).toEqual([[32000, { namespace: 'default', name: 'lb', localEndpoints: 1 }]]);
  });
});

describe('healthCheckResponse (kube-proxy\'s answer)', () => {
  it.each([
    { name: 'local endpoints, healthy proxy: 200', count: 2, healthy: true, status: 200 },
    { name: 'no local endpoint: 503', count: 0, healthy: true, status: 503 },
    { name: 'unhealthy proxy: 503', count: 1, healthy: false, status: 503 },
  ])('$name', ({ count, healthy, status }) => {
    const r = healthCheckResponse({ namespace: 'default', name: 'lb', localEndpoints: count }, healthy);
    expect(r.status).toBe(status);
    expect(r.headers).toEqual({ 'Content-Type': 'application/json', 'X-Content-Type-Options': 'nosniff', 'X-Load-Balancing-Endpoint-Weight': String(count) });
    expect(r.body).toBe(`{\n\t"service": {\n\t\t"namespace": "default",\n\t\t"name": "lb"\n\t},\n\t"localEndpoints": ${count},\n\t"serviceProxyHealthy": ${healthy}\n}`);
  });

  it('listens on every address, or on the node addresses inside --nodeport-addresses', () => {
    const inCidr = (ip: string, cidr: string) => cidr === '10.0.0.0/8' && ip.startsWith('10.');
    expect(healthCheckHosts(['10.0.0.1', '192.0.2.1'], [], inCidr)).toEqual(['0.0.0.0']);
    expect(healthCheckHosts(['10.0.0.1', '192.0.2.1', 'fd00::1'], ['10.0.0.0/8'], inCidr)).toEqual(['10.0.0.1']);
  });
});

describe('ServiceHealthServer', () => {
  let server: ServiceHealthServer | undefined;
  afterEach(async () => server?.close());

  it('opens the ports it is given, answers for them, and closes the ones that go', async () => {
    let healthy = true;
    server = new ServiceHealthServer({ hosts: ['127.0.0.1'], proxyHealthy: () => healthy, logger: quiet });
    const port = 30000 + Math.floor(Math.random() * 2000);
    await server.sync(new Map([[port, { namespace: 'default', name: 'lb', localEndpoints: 1 }]]));
    const get = async () => {
      const r = await fetch(`http://127.0.0.1:${port}/healthz`);
      return { status: r.status, body: (await r.json()) as unknown };
    };
    expect(await get()).toEqual({ status: 200, body: { service: { namespace: 'default', name: 'lb' }, localEndpoints: 1, serviceProxyHealthy: true } });
    healthy = false;
    expect((await get()).status).toBe(503);
    await server.sync(new Map([[port, { namespace: 'default', name: 'lb', localEndpoints: 0 }]]));
    healthy = true;
    expect(await get()).toMatchObject({ status: 503, body: { localEndpoints: 0 } });
    await server.sync(new Map());
    expect(server.ports()).toEqual([]);
    await expect(get()).rejects.toThrow();
  });
});
