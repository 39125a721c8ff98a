import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import { allocatorv1, FIELD_METADATA_KEY, v1 } from '@svcnet/api';
import { startNatsServer, type NatsServerHandle } from '@svcnet/testing';
import { grpcError, httpGet, metricValue, runAllocatorToExit, startAllocator, type AllocatorProcess } from './harness.js';

const V4 = '10.0.0.0/24';
const V6 = 'fd00:10:96::/64';
const PORTS = '30000-30039';

function ipv4Last(ip: string): number {
  return Number(ip.split('.')[3]);
}

describe('svcnet-allocator over real gRPC and NATS', () => {
  let nats: NatsServerHandle;
  let alloc: AllocatorProcess;

  beforeAll(async () => {
    nats = await startNatsServer();
    alloc = await startAllocator({
      natsUrl: nats.url,
      args: ['--service-cluster-ip-range', `${V4},${V6}`, '--service-node-port-range', PORTS, '--pod-network-cidr', '10.244.0.0/16'],
    });
  });
  afterAll(async () => {
    await alloc?.kill();
    await nats?.cleanup();
  });

  it('returns every error with its code, field and Kubernetes wording', async () => {
    const c = alloc.client;
    await c.allocateClusterIp({ owner: 'default/taken', requestedIp: '10.0.0.100' });
    await c.allocateNodePort({ owner: 'default/taken', requestedPort: 30010 });
    const cases = [
      {
        name: 'requested IP taken',
        call: () => c.allocateClusterIp({ owner: 'default/other', requestedIp: '10.0.0.100' }),
        code: status.ALREADY_EXISTS,
        field: 'requested_ip',
        message: /provided IP is already allocated/,
      },
      {
        name: 'requested IP outside the range',
        call: () => c.allocateClusterIp({ owner: 'default/other', requestedIp: '10.0.1.1' }),
        code: status.INVALID_ARGUMENT,
        field: 'requested_ip',
        message: /The range of valid IPs is 10\.0\.0\.0\/24/,
      },
      {
        name: 'network address',
        call: () => c.allocateClusterIp({ owner: 'default/other', requestedIp: '10.0.0.0' }),
        code: status.INVALID_ARGUMENT,
        field: 'requested_ip',
        message: /not in the valid range/,
      },
      {
        name: 'broadcast address',
        call: () => c.allocateClusterIp({ owner: 'default/other', requestedIp: '10.0.0.255' }),
        code: status.INVALID_ARGUMENT,
        field: 'requested_ip',
        message: /not in the valid range/,
      },
      {
        name: 'bad IP syntax',
        call: () => c.allocateClusterIp({ owner: 'default/other', requestedIp: '10.0.0.300' }),
        code: status.INVALID_ARGUMENT,
        field: 'requested_ip',
        message: /must be a valid IP address/,
      },
      {
        name: 'IP of the wrong family for ip_family',
        call: () => c.allocateClusterIp({ owner: 'default/other', requestedIp: '10.0.0.7', ipFamily: v1.IPFamily.IP_FAMILY_IPV6 }),
        code: status.INVALID_ARGUMENT,
        field: 'requested_ip',
        message: /not an IPv6 address/,
      },
      {
        name: 'bad owner syntax',
        call: () => c.allocateClusterIp({ owner: 'NoSlash' }),
        code: status.INVALID_ARGUMENT,
        field: 'owner',
        message: /must be '<namespace>\/<name>'/,
      },
      {
        name: 'empty owner',
        call: () => c.allocateNodePort({ owner: '' }),
        code: status.INVALID_ARGUMENT,
        field: 'owner',
        message: /must be '<namespace>\/<name>'/,
      },
      {
        name: 'release of another owner’s IP',
        call: () => c.releaseClusterIp({ owner: 'default/other', ip: '10.0.0.100' }),
        code: status.FAILED_PRECONDITION,
        field: 'ip',
        message: /allocated to default\/taken/,
      },
      {
        name: 'release with a bad IP',
        call: () => c.releaseClusterIp({ owner: 'default/taken', ip: 'nope' }),
        code: status.INVALID_ARGUMENT,
        field: 'ip',
        message: /must be a valid IP address/,
      },
      {
        name: 'requested port taken',
        call: () => c.allocateNodePort({ owner: 'default/other', requestedPort: 30010 }),
        code: status.ALREADY_EXISTS,
        field: 'requested_port',
        message: /provided port is already allocated/,
      },
      {
        name: 'requested port outside the range',
        call: () => c.allocateNodePort({ owner: 'default/other', requestedPort: 80 }),
        code: status.INVALID_ARGUMENT,
        field: 'requested_port',
        message: /The range of valid ports is 30000-30039/,
      },
      {
        name: 'negative port',
        call: () => c.allocateNodePort({ owner: 'default/other', requestedPort: -5 }),
        code: status.INVALID_ARGUMENT,
        field: 'requested_port',
        message: /between 1 and 65535/,
      },
      {
        name: 'release of another owner’s port',
        call: () => c.releaseNodePort({ owner: 'default/other', port: 30010 }),
        code: status.FAILED_PRECONDITION,
        field: 'port',
        message: /allocated to default\/taken/,
      },
      {
        name: 'release of port 0',
        call: () => c.releaseNodePort({ owner: 'default/taken', port: 0 }),
        code: status.INVALID_ARGUMENT,
        field: 'port',
        message: /between 1 and 65535/,
      },
    ];
    for (const tc of cases) {
      const err = await grpcError(tc.call());
      expect({ name: tc.name, code: err.code }).toEqual({ name: tc.name, code: tc.code });
      expect(err.details, tc.name).toMatch(tc.message);
      expect(err.metadata.get(FIELD_METADATA_KEY), tc.name).toEqual([tc.field]);
    }
  });

  it('releases idempotently for the owner', async () => {
    const c = alloc.client;
    const { ip } = await c.allocateClusterIp({ owner: 'default/rel' });
    expect(await c.releaseClusterIp({ owner: 'default/rel', ip })).toEqual({ released: true });
    expect(await c.releaseClusterIp({ owner: 'default/rel', ip })).toEqual({ released: false });
    // The IP can be requested again once released.
    expect((await c.allocateClusterIp({ owner: 'default/rel2', requestedIp: ip })).ip).toBe(ip);
    const { port } = await c.allocateNodePort({ owner: 'default/rel' });
    expect(await c.releaseNodePort({ owner: 'default/rel', port })).toEqual({ released: true });
    expect(await c.releaseNodePort({ owner: 'default/rel', port })).toEqual({ released: false });
    await c.releaseClusterIp({ owner: 'default/rel2', ip });
  });

  it('hands out random IPv6 addresses in a /64, canonical and in the upper band', async () => {
    const c = alloc.client;
    const got = await Promise.all(
      Array.from({ length: 20 }, (_, i) => c.allocateClusterIp({ owner: `v6/svc-${i}`, ipFamily: v1.IPFamily.IP_FAMILY_IPV6 })),
    );
    const ips = got.map((g) => g.ip);
    expect(new Set(ips).size).toBe(20);
    for (const g of got) {
      expect(g.ipFamily).toBe(v1.IPFamily.IP_FAMILY_IPV6);
      expect(g.ip.startsWith('fd00:10:96:0:')).toBe(true);
    }
    // Random over 2^64: the host parts are spread, not sequential.
    expect(new Set(ips.map((ip) => ip.split(':')[4])).size).toBeGreaterThan(15);
    const requested = await c.allocateClusterIp({ owner: 'v6/fixed', requestedIp: 'FD00:10:96:0:0:0:0:A' });
    expect(requested.ip).toBe('fd00:10:96::a');
  });

  it('a /24 gives exactly 254 distinct IPs, upper band first, then RESOURCE_EXHAUSTED', async () => {
    const c = alloc.client;
    // Earlier tests hold 10.0.0.100 (default/taken); 253 remain.
    const upper = await Promise.all(Array.from({ length: 253 - 16 }, (_, i) => c.allocateClusterIp({ owner: `fill/svc-${i}` })));
    expect(upper.every((g) => ipv4Last(g.ip) > 16)).toBe(true);
    const lower = await Promise.all(Array.from({ length: 16 }, (_, i) => c.allocateClusterIp({ owner: `fill/low-${i}` })));
    expect(lower.map((g) => ipv4Last(g.ip)).sort((a, b) => a - b)).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
    const all = new Set([...upper, ...lower].map((g) => g.ip).concat('10.0.0.100'));
    expect(all.size).toBe(254);
    for (const ip of all) {
      expect(ipv4Last(ip)).toBeGreaterThanOrEqual(1);
      expect(ipv4Last(ip)).toBeLessThanOrEqual(254);
    }
    const full = await grpcError(c.allocateClusterIp({ owner: 'fill/one-more' }));
    expect(full.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(full.details).toMatch(/^range is full/);
    const v4 = (await c.getStatus()).ranges.find((r) => r.range === V4)!;
    expect(v4).toMatchObject({ kind: allocatorv1.RangeKind.RANGE_KIND_CLUSTER_IP, size: '254', used: '254', free: '0' });
    const v6 = (await c.getStatus()).ranges.find((r) => r.range === V6)!;
    expect(v6).toMatchObject({ size: String((1n << 64n) - 1n), used: '21' });
  });

  it('node ports: static band last, then RESOURCE_EXHAUSTED', async () => {
    const c = alloc.client;
    // 40 ports, a static band of 16 (30000-30015); 30010 is held already.
    const got = await Promise.all(Array.from({ length: 39 }, (_, i) => c.allocateNodePort({ owner: `np/svc-${i}` })));
    const ports = got.map((g) => g.port);
    expect(new Set([...ports, 30010]).size).toBe(40);
    expect(ports.every((p) => p >= 30000 && p <= 30039)).toBe(true);
    const full = await grpcError(c.allocateNodePort({ owner: 'np/one-more' }));
    expect(full.code).toBe(status.RESOURCE_EXHAUSTED);
  });

  it('lists allocations with filters', async () => {
    const c = alloc.client;
    const byOwner = await c.listAllocations({ owner: 'default/taken' });
    expect(byOwner.allocations.map((a) => [a.kind, a.value])).toEqual([
      [allocatorv1.RangeKind.RANGE_KIND_CLUSTER_IP, '10.0.0.100'],
      [allocatorv1.RangeKind.RANGE_KIND_NODE_PORT, '30010'],
    ]);
    expect(byOwner.allocations[0]!.allocatedAt).toBeInstanceOf(Date);
    const ports = await c.listAllocations({ kind: allocatorv1.RangeKind.RANGE_KIND_NODE_PORT });
    expect(ports.allocations).toHaveLength(40);
    // Sorted as addresses, not as text (10.0.0.9 before 10.0.0.10), IPv4 before IPv6; ports as numbers.
    const ips = (await c.listAllocations({ kind: allocatorv1.RangeKind.RANGE_KIND_CLUSTER_IP })).allocations.map((a) => a.value);
    const v4 = ips.filter((ip) => !ip.includes(':'));
    expect(v4.length).toBeGreaterThan(100);
    expect(v4).toEqual([...v4].sort((x, y) => ipv4Last(x) - ipv4Last(y)));
    expect(ips.slice(0, v4.length)).toEqual(v4);
    expect(ports.allocations.map((a) => Number(a.value))).toEqual([...Array(40).keys()].map((i) => 30000 + i));
  });

  it('exposes Prometheus metrics that agree with GetStatus and count each call by code', async () => {
    const c = alloc.client;
    const scrape = async () => {
      const res = await httpGet(alloc.metricsPort, '/metrics');
      expect(res.status).toBe(200);
      return res.body;
    };
    const v4 = `{cidr="${V4}"}`;
    const okCalls = '{grpc_service="svcnet.v1.Allocator",grpc_method="AllocateClusterIP",grpc_type="unary",grpc_code="OK"}';
    const takenCalls = '{grpc_service="svcnet.v1.Allocator",grpc_method="AllocateClusterIP",grpc_type="unary",grpc_code="AlreadyExists"}';
    const before = await scrape();
    const statusBefore = await c.getStatus();
    const v4Range = statusBefore.ranges.find((r) => r.range === V4)!;
    const ports = statusBefore.ranges.find((r) => r.range === PORTS)!;
    expect(metricValue(before, 'svcnet_clusterip_allocator_allocated_ips', v4)).toBe(Number(v4Range.used));
    expect(metricValue(before, 'svcnet_clusterip_allocator_available_ips', v4)).toBe(Number(v4Range.free));
    expect(metricValue(before, 'svcnet_nodeport_allocator_allocated_ports')).toBe(Number(ports.used));
    expect(metricValue(before, 'svcnet_allocator_store_available')).toBe(1);

    // One refused static allocation (10.0.0.100 is taken since the first test), and a release + dynamic one.
    await grpcError(c.allocateClusterIp({ owner: 'default/metrics', requestedIp: '10.0.0.100' }));
    const some = (await c.listAllocations({ kind: allocatorv1.RangeKind.RANGE_KIND_CLUSTER_IP })).allocations.find((a) =>
      a.value.startsWith('10.0.0.') && a.owner !== 'default/taken',
    )!;
    await c.releaseClusterIp({ owner: some.owner, ip: some.value });
    await c.allocateClusterIp({ owner: 'default/metrics', ipFamily: v1.IPFamily.IP_FAMILY_IPV4 });

    const after = await scrape();
    const delta = (name: string, labels = '') => (metricValue(after, name, labels) ?? 0) - (metricValue(before, name, labels) ?? 0);
    expect(delta('grpc_server_handled_total', okCalls)).toBe(1);
    expect(delta('grpc_server_handled_total', takenCalls)).toBe(1);
    expect(delta('svcnet_clusterip_allocator_allocation_total', `{cidr="${V4}",scope="dynamic"}`)).toBe(1);
    expect(delta('svcnet_clusterip_allocator_allocation_errors_total', `{cidr="${V4}",scope="static"}`)).toBe(1);
    expect(metricValue(after, 'svcnet_clusterip_allocator_allocated_ips', v4)).toBe(Number(v4Range.used));
    // Both calls were timed, and both within the 5 s bucket.
    const timed = '{grpc_service="svcnet.v1.Allocator",grpc_method="AllocateClusterIP",grpc_type="unary"}';
    expect(delta('grpc_server_handling_seconds_count', timed)).toBe(2);
    expect(delta('grpc_server_handling_seconds_bucket', timed.replace('{', '{le="5",'))).toBe(2);
    expect(after).toMatch(/^nodejs_gc_duration_seconds_bucket\{/m);
    expect(await httpGet(alloc.metricsPort, '/healthz')).toEqual({ status: 200, body: 'ok\n' });
    expect((await httpGet(alloc.metricsPort, '/nope')).status).toBe(404);
  });

  it('refuses to start on bad flags, exit 1 with a clear message', async () => {
    const cases = [
      { name: 'pod network overlaps', args: ['--service-cluster-ip-range', '10.96.0.0/12', '--pod-network-cidr', '10.100.0.0/16'], message: /overlaps the pod network 10\.100\.0\.0\/16/ },
      { name: 'bad service range', args: ['--service-cluster-ip-range', '10.96.0.0/40'], message: /--service-cluster-ip-range: Invalid value/ },
      { name: 'IPv6 range too big', args: ['--service-cluster-ip-range', 'fd00::/48'], message: /\/64 or longer/ },
      { name: 'bad port range', args: ['--service-node-port-range', '32767-30000'], message: /--service-node-port-range/ },
    ];
    const results = await Promise.all(cases.map((tc) => runAllocatorToExit(tc.args)));
    for (const [i, tc] of cases.entries()) {
      const r = results[i]!;
      expect({ name: tc.name, code: r.code }).toEqual({ name: tc.name, code: 1 });
      expect(r.stderr, tc.name).toMatch(tc.message);
    }
  });
});
