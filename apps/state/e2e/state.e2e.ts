import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { status, type ClientReadableStream } from '@grpc/grpc-js';
import { statev1, v1 } from '@svcnet/api';
import type {
  AllocatorTestClient,
  StateTestClient} from './harness.js';
import {
  eventually,
  fieldOf,
  grpcError,
  httpGet,
  metricValue,
  StateStack,
  wirePod,
  wireService,
} from './harness.js';

/** "ip(ready|notready) ... -> port" per subset, to compare endpoints compactly. */
function endpointsSummary(e: v1.Endpoints): string[] {
  return e.subsets.map(
    (s) => `${s.addresses.map((a) => `${a.ip}${a.ready ? '' : '(notready)'}`).join(' ')} -> ${s.ports.map((p) => p.port).join(',')}`,
  );
}

describe('svcnet-state over real gRPC, NATS and allocator', () => {
  let stack: StateStack;
  let client: StateTestClient;
  let alloc: AllocatorTestClient;

  beforeAll(async () => {
    stack = await StateStack.start();
    ({ client, alloc } = stack);
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('create → get → list → update → delete a ClusterIP service', async () => {
    const created = await client.createService(wireService({ name: 'web', labels: { tier: 'front' }, ports: [{ port: 80, targetPort: 8080 }] }));
    const ip = created.spec!.clusterIp;
    expect(ip).toMatch(/^10\.96\.0\.\d+$/);
    expect(created.spec!.clusterIps).toEqual([ip]);
    expect(created.metadata!.uid).not.toBe('');
    expect(Number(created.metadata!.resourceVersion)).toBeGreaterThan(0);
    expect(created.metadata!.changeTimestamp).toBeInstanceOf(Date);
    expect((await alloc.list()).map((a) => `${a.value} ${a.owner}`)).toContain(`${ip} default/web`);

    const got = await client.getService('default', 'web');
    expect(got.spec!.clusterIp).toBe(ip);
    expect(got.metadata!.resourceVersion).toBe(created.metadata!.resourceVersion);

    await client.createService(wireService({ name: 'other', namespace: 'kube-system' }));
    expect((await client.listServices({ namespace: 'default' })).items.map((s) => s.metadata!.name)).toEqual(['web']);
    expect((await client.listServices({ allNamespaces: true })).items.map((s) => `${s.metadata!.namespace}/${s.metadata!.name}`)).toEqual([
      'default/web',
      'kube-system/other',
    ]);
    expect((await client.listServices({ allNamespaces: true, labelSelector: 'tier=front' })).items).toHaveLength(1);

    const update = { ...got, spec: { ...got.spec!, ports: [...got.spec!.ports, { ...got.spec!.ports[0]!, name: 'b', port: 81 }] } };
    update.spec.ports[0] = { ...update.spec.ports[0]!, name: 'a' };
    const updated = await client.updateService(update);
    expect(updated.spec!.ports.map((p) => `${p.name}:${p.port}`)).toEqual(['a:80', 'b:81']);
    expect(updated.spec!.clusterIp).toBe(ip);
    expect(updated.metadata!.changeTimestamp!.getTime()).toBeGreaterThanOrEqual(created.metadata!.changeTimestamp!.getTime());
    // The stale revision loses (optimistic concurrency).
    const stale = await grpcError(client.updateService(update));
    expect(stale.code).toBe(status.ABORTED);
    expect(stale.details).toMatch(/the object has been modified/);

    await client.deleteService('default', 'web');
    expect((await grpcError(client.getService('default', 'web'))).code).toBe(status.NOT_FOUND);
    expect((await alloc.list()).map((a) => a.owner)).not.toContain('default/web');
    await client.deleteService('kube-system', 'other');
  });

  it('a LoadBalancer service without an allocator pool stays pending (no ingress) but gets its node ports', async () => {
    const created = await client.createService(wireService({ name: 'lb-pending', type: 'LoadBalancer' }));
    expect(created.status?.loadBalancer?.ingress ?? []).toEqual([]);
    expect(created.spec!.ports[0]!.nodePort).toBeGreaterThanOrEqual(30000);
    await client.deleteService('default', 'lb-pending');
    expect((await alloc.list()).map((a) => a.owner)).not.toContain('default/lb-pending');
  });

  it('NodePort services get node ports that follow type and port changes', async () => {
    const created = await client.createService(wireService({ name: 'np', type: 'NodePort', ports: [{ name: 'http', port: 80 }] }));
    const first = created.spec!.ports[0]!.nodePort;
    expect(first).toBeGreaterThanOrEqual(30000);
    expect(first).toBeLessThanOrEqual(30099);
    const withTwo = await client.updateService({
      ...created,
      spec: { ...created.spec!, ports: [...created.spec!.ports, { name: 'https', port: 443, protocol: v1.Protocol.PROTOCOL_TCP, nodePort: 30090, targetPort: undefined }] },
    });
    expect(withTwo.spec!.ports.map((p) => p.nodePort)).toEqual([first, 30090]);
    const ports = async () => (await alloc.list()).filter((a) => a.owner === 'default/np' && a.kind === 2).map((a) => a.value).sort();
    expect(await ports()).toEqual([String(first), '30090'].sort());
    const asClusterIp = await client.updateService({ ...withTwo, spec: { ...withTwo.spec!, type: v1.ServiceType.SERVICE_TYPE_CLUSTER_IP } });
    expect(asClusterIp.spec!.ports.map((p) => p.nodePort)).toEqual([0, 0]);
    expect(await ports()).toEqual([]);
    await client.deleteService('default', 'np');
    expect((await alloc.list()).filter((a) => a.owner === 'default/np')).toEqual([]);
  });

  it('headless services get no cluster IP and no allocation', async () => {
    const s = await client.createService(wireService({ name: 'headless', clusterIp: 'None', selector: { app: 'h' } }));
    expect(s.spec!.clusterIp).toBe('None');
    expect((await alloc.list()).filter((a) => a.owner === 'default/headless')).toEqual([]);
    await client.deleteService('default', 'headless');
  });

  it('returns every validation error with its gRPC code and field', async () => {
    await client.createService(wireService({ name: 'taken' }));
    const takenIp = (await client.getService('default', 'taken')).spec!.clusterIp;
    await client.createService(wireService({ name: 'with-selector', selector: { app: 'x' } }));
    const cases = [
      { name: 'bad service name', call: () => client.createService(wireService({ name: 'Bad_Name' })), code: status.INVALID_ARGUMENT, field: 'metadata.name', message: /DNS-1035 label/ },
      { name: 'port out of range', call: () => client.createService(wireService({ name: 'p', ports: [{ port: 70000 }] })), code: status.INVALID_ARGUMENT, field: 'spec.ports[0].port', message: /must be between 1 and 65535, inclusive/ },
      { name: 'no ports', call: () => client.createService(wireService({ name: 'p', ports: [] })), code: status.INVALID_ARGUMENT, field: 'spec.ports', message: /Required value/ },
      {
        name: 'duplicate port names',
        call: () => client.createService(wireService({ name: 'p', ports: [{ name: 'a', port: 1 }, { name: 'a', port: 2 }] })),
        code: status.INVALID_ARGUMENT,
        field: 'spec.ports[1].name',
        message: /Duplicate value: "a"/,
      },
      { name: 'unnamed ports', call: () => client.createService(wireService({ name: 'p', ports: [{ port: 1 }, { port: 2 }] })), code: status.INVALID_ARGUMENT, field: 'spec.ports[0].name', message: /Required value/ },
      { name: 'bad named target port', call: () => client.createService(wireService({ name: 'p', ports: [{ port: 1, targetPort: 'Not_Valid' }] })), code: status.INVALID_ARGUMENT, field: 'spec.ports[0].targetPort', message: /alpha-numeric/ },
      { name: 'node port on ClusterIP', call: () => client.createService(wireService({ name: 'p', ports: [{ port: 1, nodePort: 30001 }] })), code: status.INVALID_ARGUMENT, field: 'spec.ports[0].nodePort', message: /Forbidden: may not be used when `type` is 'ClusterIP'/ },
      {
        name: 'unsupported protocol',
        call: () => client.createService(wireService({ name: 'p', ports: [{ port: 1, protocol: 7 as v1.Protocol }] })),
        code: status.INVALID_ARGUMENT,
        field: 'spec.ports[0].protocol',
        message: /Unsupported value: 7: supported values: "SCTP", "TCP", "UDP"/,
      },
      { name: 'bad cluster IP', call: () => client.createService(wireService({ name: 'p', clusterIp: '10.96.0.999' })), code: status.INVALID_ARGUMENT, field: 'spec.clusterIP', message: /must be a valid IP address/ },
      { name: 'cluster IP outside the range', call: () => client.createService(wireService({ name: 'p', clusterIp: '10.1.0.1' })), code: status.INVALID_ARGUMENT, field: 'requested_ip', message: /valid IPs/ },
      { name: 'cluster IP taken', call: () => client.createService(wireService({ name: 'p', clusterIp: takenIp })), code: status.ALREADY_EXISTS, field: 'requested_ip', message: /already allocated/ },
      { name: 'node port outside the range', call: () => client.createService(wireService({ name: 'p', type: 'NodePort', ports: [{ port: 1, nodePort: 31000 }] })), code: status.INVALID_ARGUMENT, field: undefined, message: /range/ },
      { name: 'name taken', call: () => client.createService(wireService({ name: 'taken' })), code: status.ALREADY_EXISTS, field: undefined, message: /already exists/ },
      { name: 'missing service', call: () => client.getService('default', 'nope'), code: status.NOT_FOUND, field: undefined, message: /services "nope" not found/ },
      { name: 'delete missing', call: () => client.deleteService('default', 'nope'), code: status.NOT_FOUND, field: undefined, message: /not found/ },
      {
        name: 'cluster IP is immutable',
        call: async () => {
          const s = await client.getService('default', 'taken');
          return client.updateService({ ...s, spec: { ...s.spec!, clusterIp: '10.96.0.250', clusterIps: ['10.96.0.250'] } });
        },
        code: status.INVALID_ARGUMENT,
        field: 'spec.clusterIP',
        message: /field is immutable/,
      },
      { name: 'pod IP outside the pod network', call: () => client.createPod(wirePod({ name: 'p', ip: '192.168.0.1' })), code: status.INVALID_ARGUMENT, field: 'status.podIP', message: /must be inside the pod network 10\.244\.0\.0\/16/ },
      { name: 'pod without IP', call: () => client.createPod(wirePod({ name: 'p', ip: '' })), code: status.INVALID_ARGUMENT, field: 'status.podIP', message: /Required value/ },
      {
        name: 'endpoints of a service with a selector',
        call: () => client.createEndpoints(v1.Endpoints.fromPartial({ metadata: { namespace: 'default', name: 'with-selector' } })),
        code: status.FAILED_PRECONDITION,
        field: undefined,
        message: /managed by the endpoints controller/,
      },
      { name: 'bad label selector', call: () => client.listServices({ labelSelector: 'app in (a)' }), code: status.INVALID_ARGUMENT, field: 'labelSelector', message: /unable to parse/ },
    ];
    for (const c of cases) {
      const err = await grpcError(c.call());
      expect(err.code, c.name).toBe(c.code);
      expect(err.details, c.name).toMatch(c.message);
      if (c.field) expect(fieldOf(err), c.name).toBe(c.field);
    }
    // Nothing half-made was left behind by the refused creates.
    expect((await alloc.list()).filter((a) => a.owner === 'default/p')).toEqual([]);
    await client.deleteService('default', 'taken');
    await client.deleteService('default', 'with-selector');
  });

  it('endpoints follow pods: selector changes, readiness flips, label changes, deletes', async () => {
    const ns = 'ep';
    await client.createPod(wirePod({ namespace: ns, name: 'a', ip: '10.244.1.1', labels: { app: 'a' } }));
    await client.createPod(wirePod({ namespace: ns, name: 'b', ip: '10.244.1.2', labels: { app: 'b' }, ports: [{ name: 'http', port: 9090 }] }));
    const svc = await client.createService(wireService({ namespace: ns, name: 'web', selector: { app: 'a' }, ports: [{ port: 80, targetPort: 'http' }] }));
    const ep = () => client.getEndpoints(ns, 'web').catch(() => v1.Endpoints.fromPartial({}));
    const waitFor = (want: string[]) => eventually(ep, (e) => JSON.stringify(endpointsSummary(e)) === JSON.stringify(want));

    const first = await waitFor(['10.244.1.1 -> 8080']);
    expect(first.subsets[0]!.addresses[0]).toMatchObject({ nodeName: 'node1', ready: true, serving: true, podRef: { kind: 'Pod', name: 'a' } });
    expect(first.metadata!.changeTimestamp).toBeInstanceOf(Date);

    // Selector change moves the endpoints to the other pod (named port resolved per pod).
    await client.updateService({ ...svc, metadata: { ...svc.metadata!, resourceVersion: '0' }, spec: { ...svc.spec!, selector: { app: 'b' } } });
    await waitFor(['10.244.1.2 -> 9090']);

    // Readiness flip shows, flagged.
    const b = await client.getPod(ns, 'b');
    await client.updatePod({ ...b, ready: false });
    await waitFor(['10.244.1.2(notready) -> 9090']);

    // A label change brings pod a in.
    const a = await client.getPod(ns, 'a');
    await client.updatePod({ ...a, metadata: { ...a.metadata!, labels: { app: 'b' } } });
    await waitFor(['10.244.1.1 -> 8080', '10.244.1.2(notready) -> 9090']);

    await client.deletePod(ns, 'b');
    await waitFor(['10.244.1.1 -> 8080']);
    const listed = await client.listEndpoints({ namespace: ns });
    expect(listed.items.map((e) => e.metadata!.name)).toEqual(['web']);

    await client.deleteService(ns, 'web');
    await eventually(() => client.listEndpoints({ namespace: ns }), (l) => l.items.length === 0);
    await client.deletePod(ns, 'a');
  });

  it('user-managed endpoints for a selector-less service', async () => {
    await client.createService(wireService({ name: 'external', ports: [{ port: 5432 }] }));
    const created = await client.createEndpoints(
      v1.Endpoints.fromPartial({
        metadata: { namespace: 'default', name: 'external' },
        subsets: [{ addresses: [{ ip: '192.0.2.10', ready: true, serving: true }], ports: [{ port: 5432, protocol: v1.Protocol.PROTOCOL_TCP }] }],
      }),
    );
    expect(created.metadata!.changeTimestamp).toBeInstanceOf(Date);
    // The controller leaves them alone.
    await new Promise((r) => setTimeout(r, 300));
    expect(endpointsSummary(await client.getEndpoints('default', 'external'))).toEqual(['192.0.2.10 -> 5432']);
    await client.deleteService('default', 'external');
    await new Promise((r) => setTimeout(r, 300));
    expect(endpointsSummary(await client.getEndpoints('default', 'external'))).toEqual(['192.0.2.10 -> 5432']);
  });

  it('streams the change feed over gRPC Watch: ADDED, SYNCED, then live changes', async () => {
    await client.createService(wireService({ namespace: 'w', name: 'before' }));
    const events: string[] = [];
    const stream: ClientReadableStream<statev1.WatchEvent> = client.raw.watch({ kinds: [statev1.ObjectKind.OBJECT_KIND_SERVICE], namespace: 'w' });
    stream.on('data', (e: statev1.WatchEvent) => events.push(`${statev1.watchEventTypeToJSON(e.type)} ${e.name}`));
    stream.on('error', () => undefined);
    try {
      await eventually(async () => events.length, (n) => n >= 2);
      await client.createService(wireService({ namespace: 'w', name: 'after' }));
      const s = await client.getService('w', 'after');
      await client.updateService({ ...s, metadata: { ...s.metadata!, labels: { x: 'y' } } });
      await client.deleteService('w', 'before');
      await eventually(async () => events.length, (n) => n >= 5);
      expect(events).toEqual([
        'WATCH_EVENT_TYPE_ADDED before',
        'WATCH_EVENT_TYPE_SYNCED ',
        'WATCH_EVENT_TYPE_ADDED after',
        'WATCH_EVENT_TYPE_MODIFIED after',
        'WATCH_EVENT_TYPE_DELETED before',
      ]);
    } finally {
      stream.cancel();
      await client.deleteService('w', 'after');
    }
  });

  it('exposes /metrics: per-method gRPC counts by code, open watch streams, store availability; /healthz', async () => {
    const scrape = async () => (await httpGet(stack.state.metricsPort, '/metrics')).body;
    const series = (method: string, type: string, code?: string) =>
      `{grpc_service="svcnet.v1.State",grpc_method="${method}",grpc_type="${type}"${code ? `,grpc_code="${code}"` : ''}}`;
    const before = await scrape();
    const count = (text: string, name: string, labels: string) => metricValue(text, `${name}${labels}`) ?? 0;
    await client.createService(wireService({ namespace: 'm', name: 'counted' }));
    await grpcError(client.getService('m', 'missing'));
    const stream = client.raw.watch({ kinds: [statev1.ObjectKind.OBJECT_KIND_SERVICE], namespace: 'm' });
    stream.on('data', () => undefined);
    stream.on('error', () => undefined);
    try {
      await eventually(scrape, (t) => count(t, 'grpc_server_streams_open', series('Watch', 'server_stream')) === 1);
      const during = await scrape();
      expect(count(during, 'grpc_server_handled_total', series('CreateService', 'unary', 'OK')) - count(before, 'grpc_server_handled_total', series('CreateService', 'unary', 'OK'))).toBe(1);
      expect(count(during, 'grpc_server_handled_total', series('GetService', 'unary', 'NotFound')) - count(before, 'grpc_server_handled_total', series('GetService', 'unary', 'NotFound'))).toBe(1);
      expect(count(during, 'grpc_server_handling_seconds_count', series('CreateService', 'unary'))).toBeGreaterThanOrEqual(1);
      expect(metricValue(during, 'svcnet_state_store_available')).toBe(1);
      const services = (await client.listServices({ allNamespaces: true })).items.length;
      await eventually(scrape, (t) => metricValue(t, 'svcnet_state_objects{resource="services"}') === services);
      expect(metricValue(during, 'svcnet_endpoints_controller_queue_depth')).toBeGreaterThanOrEqual(0);
      expect(during).toMatch(/^nodejs_gc_duration_seconds_bucket\{/m);
    } finally {
      stream.cancel();
    }
    await eventually(scrape, (t) => count(t, 'grpc_server_streams_open', series('Watch', 'server_stream')) === 0);
    expect(count(await scrape(), 'grpc_server_handled_total', series('Watch', 'server_stream', 'Canceled'))).toBeGreaterThanOrEqual(1);
    expect(await httpGet(stack.state.metricsPort, '/healthz')).toEqual({ status: 200, body: 'ok\n' });
    await client.deleteService('m', 'counted');
  });
});
