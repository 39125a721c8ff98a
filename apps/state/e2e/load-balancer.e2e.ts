/**
 * LoadBalancer services through the real state service and allocator: an
 * ingress IP from the allocator's pool (--load-balancer-ip-range) or given by
 * the client, node ports unless allocateLoadBalancerNodePorts is false, a
 * health check node port with externalTrafficPolicy Local, and every
 * allocation released when the service stops being a LoadBalancer or goes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import { allocatorv1 } from '@svcnet/api';
import { grpcError, StateStack, wireService, type AllocatorTestClient, type StateTestClient } from './harness.js';

const POOL = '203.0.113.0/29';

describe('LoadBalancer services: state service + allocator pool', () => {
  let stack: StateStack;
  let client: StateTestClient;
  let alloc: AllocatorTestClient;
  const held = async (owner: string) => (await alloc.list()).filter((a) => a.owner === owner).map((a) => `${allocatorv1.RangeKind[a.kind]} ${a.value}`).sort();

  beforeAll(async () => {
    stack = await StateStack.start({ allocatorArgs: ['--load-balancer-ip-range', POOL] });
    ({ client, alloc } = stack);
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('takes an ingress IP from the pool, node ports, and a health check node port with eTP Local; releases them all on delete', async () => {
    const created = await client.createService(wireService({ name: 'lb', type: 'LoadBalancer', externalTrafficPolicy: 'Local', ports: [{ port: 80 }] }));
    const ip = created.status!.loadBalancer!.ingress[0]!.ip;
    expect(ip).toMatch(/^203\.0\.113\.[1-6]$/);
    const np = created.spec!.ports[0]!.nodePort;
    const hc = created.spec!.healthCheckNodePort;
    expect(np).toBeGreaterThanOrEqual(30000);
    expect(hc).toBeGreaterThanOrEqual(30000);
    expect(hc).not.toBe(np);
    expect(await held('default/lb')).toEqual(
      [`RANGE_KIND_LOAD_BALANCER_IP ${ip}`, `RANGE_KIND_NODE_PORT ${np}`, `RANGE_KIND_NODE_PORT ${hc}`, `RANGE_KIND_CLUSTER_IP ${created.spec!.clusterIp}`].sort(),
    );
    // An update that says nothing of the status keeps the ingress IP; eTP Cluster gives the health check port back.
    const updated = await client.updateService({ ...created, status: undefined, spec: { ...created.spec!, externalTrafficPolicy: 1, healthCheckNodePort: 0 } });
    expect(updated.status!.loadBalancer!.ingress.map((i) => i.ip)).toEqual([ip]);
    expect(updated.spec!.healthCheckNodePort).toBe(0);
    expect(await held('default/lb')).not.toContain(`RANGE_KIND_NODE_PORT ${hc}`);
    await client.deleteService('default', 'lb');
    expect(await held('default/lb')).toEqual([]);
  });

  it('allocateLoadBalancerNodePorts: false allocates no node port', async () => {
    const created = await client.createService(wireService({ name: 'no-np', type: 'LoadBalancer', allocateLoadBalancerNodePorts: false }));
    expect(created.spec!.ports[0]!.nodePort).toBe(0);
    expect(created.spec!.allocateLoadBalancerNodePorts).toBe(false);
    expect(created.status!.loadBalancer!.ingress).toHaveLength(1);
    await client.deleteService('default', 'no-np');
  });

  it('an ingress IP given by the client is kept: taken from the pool when inside it (never handed out twice), left alone when outside', async () => {
    const inside = await client.createService(wireService({ name: 'given-in', type: 'LoadBalancer', ingress: ['203.0.113.6'] }));
    expect(inside.status!.loadBalancer!.ingress.map((i) => i.ip)).toEqual(['203.0.113.6']);
    expect(await held('default/given-in')).toContain('RANGE_KIND_LOAD_BALANCER_IP 203.0.113.6');
    const taken = await grpcError(client.createService(wireService({ name: 'given-again', type: 'LoadBalancer', ingress: ['203.0.113.6'] })));
    expect(taken.code).toBe(status.ALREADY_EXISTS);
    const outside = await client.createService(wireService({ name: 'given-out', type: 'LoadBalancer', ingress: ['198.51.100.7'] }));
    expect(outside.status!.loadBalancer!.ingress.map((i) => i.ip)).toEqual(['198.51.100.7']);
    expect((await held('default/given-out')).filter((a) => a.startsWith('RANGE_KIND_LOAD_BALANCER_IP'))).toEqual([]);
    // Back to ClusterIP: the ingress and the node ports go.
    const plain = await client.updateService({ ...inside, status: undefined, spec: { ...inside.spec!, type: 1 } });
    expect(plain.status?.loadBalancer?.ingress ?? []).toEqual([]);
    expect(plain.spec!.ports[0]!.nodePort).toBe(0);
    expect(await held('default/given-in')).toEqual([`RANGE_KIND_CLUSTER_IP ${inside.spec!.clusterIp}`]);
    for (const name of ['given-in', 'given-out']) await client.deleteService('default', name);
  });

  it('refuses LoadBalancer-only fields elsewhere and a status on other types', async () => {
    const err = await grpcError(client.createService({ ...wireService({ name: 'bad', type: 'NodePort' }), status: { loadBalancer: { ingress: [{ ip: '203.0.113.1', hostname: '' }] } } }));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/status\.loadBalancer\.ingress\[0\]: Forbidden/);
  });
});
