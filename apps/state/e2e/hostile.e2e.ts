// Hostile and broken input against the real state service (real nats-server,
// real allocator, real gRPC): each case is one way an attacker or a careless
// client could bend it, and fails when the defence is removed.
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Metadata, status, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { jetstreamManager } from '@nats-io/jetstream';
import { statev1, v1 } from '@svcnet/api';
import { connectStore, type StoreConnection } from '@svcnet/store';
import { eventually, fieldOf, grpcError, httpGet, metricValue, StateStack, wirePod, wireService, type StateTestClient } from './harness.js';

const GARBAGE = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f, 0x01, 0x02]);

async function openWatch(client: StateTestClient, req: Partial<statev1.WatchRequest> = {}): Promise<{
  stream: ClientReadableStream<statev1.WatchEvent>;
  synced: Promise<void>;
  ended: Promise<ServiceError | undefined>;
}> {
  const stream = client.raw.watch(statev1.WatchRequest.fromPartial(req), new Metadata());
  let resolveSynced!: () => void;
  const synced = new Promise<void>((r) => (resolveSynced = r));
  const ended = new Promise<ServiceError | undefined>((resolve) => {
    stream.on('error', (err: ServiceError) => resolve(err));
    stream.on('end', () => resolve(undefined));
  });
  stream.on('data', (ev: statev1.WatchEvent) => {
    if (ev.type === statev1.WatchEventType.WATCH_EVENT_TYPE_SYNCED) resolveSynced();
  });
  return { stream, synced, ended };
}

async function consumerCount(nc: StoreConnection): Promise<number> {
  const jsm = await jetstreamManager(nc.nc);
  return (await jsm.streams.info('KV_svcnet-state')).state.consumer_count;
}

describe('svcnet-state under hostile and broken input', () => {
  let stack: StateStack;
  let client: StateTestClient;
  let raw: StoreConnection;

  beforeAll(async () => {
    stack = await StateStack.start({
      serviceRange: '10.96.0.0/24,fd00:96::/112',
      extraArgs: ['--service-external-ip-cidrs', '192.0.2.0/24', '--max-watches-per-client', '50', '--store-timeout', '2s'],
    });
    client = stack.client;
    raw = await connectStore({ url: stack.nats.url, name: 'hostile-test', reconnectForever: false });
  });
  afterAll(async () => {
    if (process.env['DBG']) console.log(stack.state.logs().slice(-6000));
    await raw?.close();
    await stack?.stop();
  });

  it('external IPs: only from --service-external-ip-cidrs', async () => {
    const withIps = (ips: string[]) => v1.Service.fromPartial({ ...wireService({ name: 'ext' }), spec: { ...wireService({ name: 'ext' }).spec, externalIps: ips } });
    const outside = await grpcError(client.createService(withIps(['10.0.0.5'])));
    expect(outside.code).toBe(status.INVALID_ARGUMENT);
    expect(fieldOf(outside)).toBe('spec.externalIPs[0]');
    expect(outside.details).toContain('must be inside one of the allowed external IP ranges: 192.0.2.0/24');
    const created = await client.createService(withIps(['192.0.2.7']));
    expect(created.spec!.externalIps).toEqual(['192.0.2.7']);
    await client.deleteService('default', 'ext');
  });

  it('an undecodable record is reported, listed as broken, and deletable; endpoints are overwritten by their owner', async () => {
    const kv = await raw.bucket('svcnet-state');
    // A service with a selector and a ready pod: its endpoints belong to the controller.
    await client.createPod(wirePod({ name: 'cp1', ip: '10.244.1.11', labels: { app: 'c' } }));
    await client.createService(wireService({ name: 'corrupt', selector: { app: 'c' }, ports: [{ port: 80, targetPort: 8080 }] }));
    await eventually(() => client.getEndpoints('default', 'corrupt').catch(() => undefined), (e) => (e?.subsets.length ?? 0) > 0);
    await kv.put('endpoints.default.corrupt', GARBAGE);
    // The controller notices and rewrites the endpoints it owns…
    const fixed = await eventually(
      () => client.getEndpoints('default', 'corrupt').catch(() => undefined),
      (e) => e?.subsets[0]?.addresses[0]?.ip === '10.244.1.11',
    );
    expect(fixed!.subsets[0]!.addresses[0]!.ready).toBe(true);
    // …and readiness changes reach the endpoints again.
    const pod = await client.getPod('default', 'cp1');
    await client.updatePod({ ...pod, ready: false });
    await eventually(() => client.getEndpoints('default', 'corrupt'), (e) => e.subsets[0]?.addresses[0]?.ready === false);

    // A damaged service: DATA_LOSS on get, shown as broken in lists, metric, deletable.
    await kv.put('services.default.junk', GARBAGE);
    const get = await grpcError(client.getService('default', 'junk'));
    expect(get.code).toBe(status.DATA_LOSS);
    expect(get.details).toContain('cannot be decoded');
    const list = await client.listServices({});
    expect(list.broken.map((b) => b.name)).toEqual(['junk']);
    expect(list.items.map((s) => s.metadata!.name)).toContain('corrupt');
    await eventually(
      () => httpGet(stack.state.metricsPort, '/metrics'),
      (r) => metricValue(r.body, 'svcnet_state_undecodable_objects{resource="services"}') === 1,
    );
    const deleted = await client.deleteService('default', 'junk');
    expect(deleted.metadata!.name).toBe('junk');
    expect((await client.listServices({})).broken).toEqual([]);
    await eventually(
      () => httpGet(stack.state.metricsPort, '/metrics'),
      (r) => metricValue(r.body, 'svcnet_state_undecodable_objects{resource="services"}') === 0,
    );
    // One error line per damaged key, not one per retry.
    const lines = stack.state.logs().split('\n').filter((l) => l.includes('undecodable value in the state bucket'));
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines.length).toBeLessThanOrEqual(4);
    await client.deleteService('default', 'corrupt');
    await client.deletePod('default', 'cp1');
  });

  it('names that no object can have are refused before they reach NATS; the connection stays up', async () => {
    const watch = await openWatch(client, { kinds: [statev1.ObjectKind.OBJECT_KIND_SERVICE] });
    await watch.synced;
    const huge = 'a'.repeat(5 * 1024);
    const calls: { name: string; run: () => Promise<unknown>; field: string }[] = [
      { name: 'get with a 5 KiB name', run: () => client.getService('default', huge), field: 'metadata.name' },
      { name: 'delete with a 5 KiB namespace', run: () => client.deleteService(huge, 'x'), field: 'metadata.namespace' },
      { name: 'get with a NATS wildcard', run: () => client.getPod('default', '*'), field: 'metadata.name' },
      { name: 'get with a subject separator', run: () => client.getEndpoints('default', 'a.b'), field: 'metadata.name' },
      { name: 'list in a namespace with a space', run: () => client.listServices({ namespace: 'a b' }), field: 'metadata.namespace' },
      { name: 'create with a 5 KiB namespace', run: () => client.createPod(wirePod({ namespace: huge, name: 'p', ip: '10.244.1.2' })), field: 'metadata.namespace' },
    ];
    for (const c of calls) {
      const err = await grpcError(c.run());
      expect(err.code, c.name).toBe(status.INVALID_ARGUMENT);
      expect(fieldOf(err), c.name).toBe(c.field);
      expect(err.details.length, c.name).toBeLessThan(1024);
    }
    const badWatch = await openWatch(client, { namespace: '>' });
    expect((await badWatch.ended)?.code).toBe(status.INVALID_ARGUMENT);
    // Nothing reconnected: the open watch is still alive and the state service never lost NATS.
    await client.createService(wireService({ name: 'after-names' }));
    expect(stack.state.logs()).not.toContain('reconnected to NATS');
    watch.stream.cancel();
    await client.deleteService('default', 'after-names');
  });

  it('watch streams share one informer: a client beyond its limit gets RESOURCE_EXHAUSTED, lists keep working, nothing is left behind', async () => {
    for (let i = 0; i < 200; i++) await client.createPod(wirePod({ namespace: 'fan', name: `p${i}`, ip: `10.244.2.${i + 1}` }));
    const before = await consumerCount(raw);
    const streams = await Promise.all(Array.from({ length: 80 }, () => openWatch(client)));
    const outcomes = await Promise.all(
      streams.map((s) => Promise.race([s.synced.then(() => 'synced' as const), s.ended.then((e) => e?.code)])),
    );
    expect(outcomes.filter((o) => o === 'synced')).toHaveLength(50);
    expect(outcomes.filter((o) => o === status.RESOURCE_EXHAUSTED)).toHaveLength(30);
    const refused = await streams[outcomes.indexOf(status.RESOURCE_EXHAUSTED)]!.ended;
    expect(refused?.details).toContain('the limit is 50 (svcnet-state --max-watches-per-client)');
    // No consumer per stream; lists answer while the streams are open.
    expect(await consumerCount(raw)).toBe(before);
    expect((await client.listServices({ allNamespaces: true })).items).toBeDefined();
    expect((await client.listPods({ namespace: 'fan' })).items).toHaveLength(200);
    const metrics = await httpGet(stack.state.metricsPort, '/metrics');
    expect(metricValue(metrics.body, 'svcnet_state_watch_streams')).toBe(50);
    for (const s of streams) s.stream.cancel();
    await eventually(
      () => httpGet(stack.state.metricsPort, '/metrics'),
      (r) => metricValue(r.body, 'svcnet_state_watch_streams') === 0,
    );
    expect(await consumerCount(raw)).toBe(before);
  });

  it('lists come in chunks with limit and continue; any number of objects can be listed', async () => {
    // 1,100 pods with 4 KiB of annotations each: 4.5 MB, over gRPC's 4 MiB default in one response.
    const big = 'x'.repeat(4096);
    for (let i = 0; i < 1100; i++) {
      await client.createPod(v1.Pod.fromPartial({ ...wirePod({ namespace: 'many', name: `m${i}`, ip: `10.244.${10 + Math.floor(i / 250)}.${(i % 250) + 1}` }), metadata: { namespace: 'many', name: `m${i}`, annotations: { note: big } } }));
    }
    const whole = await grpcError(client.listPods({ namespace: 'many' }));
    expect(whole.code).toBe(status.RESOURCE_EXHAUSTED); // the client's receive limit, not the server
    const names: string[] = [];
    let token = '';
    let chunks = 0;
    do {
      const chunk = await client.listPods({ namespace: 'many', limit: 400, continue: token });
      names.push(...chunk.items.map((p) => p.metadata!.name));
      token = chunk.continue;
      if (token) expect(Number(chunk.remainingItemCount)).toBe(1100 - names.length);
      chunks++;
    } while (token);
    expect(chunks).toBe(3);
    expect(new Set(names).size).toBe(1100);
    // svcnetctl reads in chunks of 500, so it shows every one of them.
    const ctl = spawnSync(process.execPath, [resolve(import.meta.dirname, '../../svcnetctl/dist/main.cjs'), '--server', `http://${stack.state.address}`, 'get', 'pods', '-n', 'many', '-o', 'name'], {
      encoding: 'utf8',
    });
    expect(ctl.status, ctl.stderr).toBe(0);
    expect(ctl.stdout.trim().split('\n')).toHaveLength(1100);
    const bad = await grpcError(client.listPods({ namespace: 'many', limit: 10, continue: 'not-a-token' }));
    expect(bad.code).toBe(status.INVALID_ARGUMENT);
    expect(fieldOf(bad)).toBe('continue');
  });

  it('a refusal echoes a cut-down value and arrives at once', async () => {
    const started = Date.now();
    const err = await grpcError(client.createService(wireService({ name: 'echo', selector: { app: 'v'.repeat(300_000) } })));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(err.details.length).toBeLessThan(2048);
    expect(err.details).toContain('(300002 characters)');
  });

  it('validation as the apiserver: enums, special IPs, annotations, revisions, sizes, dual-stack', async () => {
    const svc = (mut: (s: v1.Service) => void): v1.Service => {
      const s = wireService({ name: 'val' });
      mut(s);
      return s;
    };
    const eps = (ip: string) =>
      v1.Endpoints.fromPartial({ metadata: { namespace: 'default', name: 'sel-less' }, subsets: [{ addresses: [{ ip, ready: true }], ports: [{ port: 80 }] }] });
    const cases: { name: string; run: () => Promise<unknown>; code: status; field?: string; message: RegExp }[] = [
      { name: 'protocol 99', run: () => client.createService(svc((s) => (s.spec!.ports[0]!.protocol = 99 as v1.Protocol))), code: status.INVALID_ARGUMENT, field: 'spec.ports[0].protocol', message: /Unsupported value: 99/ },
      { name: 'type 7', run: () => client.createService(svc((s) => (s.spec!.type = 7 as v1.ServiceType))), code: status.INVALID_ARGUMENT, field: 'spec.type', message: /supported values: "ClusterIP", "LoadBalancer", "NodePort"/ },
      { name: 'affinity 5', run: () => client.createService(svc((s) => (s.spec!.sessionAffinity = 5 as v1.SessionAffinity))), code: status.INVALID_ARGUMENT, field: 'spec.sessionAffinity', message: /Unsupported value: 5/ },
      { name: 'traffic policy 3', run: () => client.createService(svc((s) => (s.spec!.internalTrafficPolicy = 3 as v1.TrafficPolicy))), code: status.INVALID_ARGUMENT, field: 'spec.internalTrafficPolicy', message: /"Cluster", "Local"/ },
      { name: 'ip family 9', run: () => client.createService(svc((s) => (s.spec!.ipFamilies = [9 as v1.IPFamily]))), code: status.INVALID_ARGUMENT, field: 'spec.ipFamilies[0]', message: /"IPv4", "IPv6"/ },
      ...['127.0.0.1', '169.254.169.254', '0.0.0.0', '224.0.0.251', 'fe80::1'].map((ip) => ({
        name: `endpoint ${ip}`,
        run: () => client.createEndpoints(eps(ip)),
        code: status.INVALID_ARGUMENT,
        field: 'subsets[0].addresses[0].ip',
        message: /may not be/,
      })),
      { name: 'annotation key', run: () => client.createService(svc((s) => (s.metadata!.annotations = { 'a b': 'x' }))), code: status.INVALID_ARGUMENT, field: 'metadata.annotations', message: /name part must consist/ },
      { name: 'annotations too large', run: () => client.createService(svc((s) => (s.metadata!.annotations = { a: 'x'.repeat(270_000) }))), code: status.INVALID_ARGUMENT, field: 'metadata.annotations', message: /at most 262144 bytes/ },
      {
        name: 'resource version past 2^53',
        run: () => client.updateService(svc((s) => (s.metadata!.resourceVersion = '18446744073709551615'))),
        code: status.INVALID_ARGUMENT,
        field: 'metadata.resourceVersion',
        message: /no larger than 9007199254740991/,
      },
      {
        name: 'object over 1 MiB',
        run: () => client.createService(svc((s) => (s.metadata!.labels = Object.fromEntries(Array.from({ length: 9000 }, (_, i) => [`k${i}`.padEnd(60, 'k'), 'v'.repeat(60)]))))),
        code: status.INVALID_ARGUMENT,
        message: /request is too large: \d+ bytes, the limit is 524288 bytes/,
      },
      { name: 'two cluster IPs of one family', run: () => client.createService(svc((s) => (s.spec!.clusterIps = ['10.96.0.50', '10.96.0.51']))), code: status.INVALID_ARGUMENT, field: 'spec.clusterIPs', message: /one IP for each IP family/ },
    ];
    await client.createService(wireService({ name: 'sel-less', selector: {} }));
    for (const c of cases) {
      const err = await grpcError(c.run());
      expect(err.code, c.name).toBe(c.code);
      expect(err.details, c.name).toMatch(c.message);
      if (c.field) expect(fieldOf(err), c.name).toBe(c.field);
    }
    // A dual-stack request gets both families, not the first one only.
    const dual = await client.createService(svc((s) => (s.spec!.clusterIps = ['10.96.0.60', 'fd00:96::60'])));
    expect(dual.spec!.clusterIps).toEqual(['10.96.0.60', 'fd00:96::60']);
    expect(dual.spec!.ipFamilies).toEqual([v1.IPFamily.IP_FAMILY_IPV4, v1.IPFamily.IP_FAMILY_IPV6]);
    await client.deleteService('default', 'val');
    const byFamily = await client.createService(svc((s) => (s.spec!.ipFamilies = [v1.IPFamily.IP_FAMILY_IPV6, v1.IPFamily.IP_FAMILY_IPV4])));
    expect(byFamily.spec!.clusterIps.map((ip) => (ip.includes(':') ? 6 : 4))).toEqual([6, 4]);
    await client.deleteService('default', 'val');
    await client.deleteService('default', 'sel-less');
  });

  it('while NATS is away, calls fail with UNAVAILABLE at once; they work again when it is back', async () => {
    await stack.nats.stop();
    try {
      await eventually(() => httpGet(stack.state.metricsPort, '/metrics'), (r) => metricValue(r.body, 'svcnet_state_store_available') === 0);
      const started = Date.now();
      const err = await grpcError(client.createService(wireService({ name: 'offline' })));
      expect(err.code).toBe(status.UNAVAILABLE);
      expect(err.details).toContain('not connected to NATS');
      expect(Date.now() - started).toBeLessThan(2_000);
      const get = await grpcError(client.getService('default', 'offline'));
      expect(get.code).toBe(status.UNAVAILABLE);
    } finally {
      await stack.nats.restart();
    }
    await eventually(
      () => client.createService(wireService({ name: 'online' })).then(() => true, () => false),
      (ok) => ok,
      30_000,
    );
    await client.deleteService('default', 'online');
  });
});
