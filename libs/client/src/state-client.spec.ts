import { Server, ServerCredentials, status, type sendUnaryData, type ServerUnaryCall, type UntypedHandleCall } from '@grpc/grpc-js';
import { serviceFromProto, serviceToProto, statev1, toGrpcError, v1 } from '@svcnet/api';
import { ErrorCode, SvcnetError, invalidField } from '@svcnet/model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '@svcnet/testing';
import { ServerUnreachableError } from './errors.js';
import { StateClient as GrpcStateApi } from './state-client.js';
import { buildService } from '@svcnet/proxy-core/testing';

const port = (p: { port: number }) => p;
const service = (o: { name: string; spec: Record<string, unknown> }) => buildService({ name: o.name, ...o.spec });

// A real gRPC server on loopback with a scripted State implementation: checks the
// wire path (requests, converters, status → SvcnetError) of GrpcStateApi.
const stored = serviceToProto(
  service({ name: 'redis', spec: { clusterIP: '10.96.0.10', clusterIPs: ['10.96.0.10'], ports: [port({ port: 6379 })] } }),
);
const listRequests: statev1.ListObjectsRequest[] = [];

type Handler = (call: ServerUnaryCall<any, any>, cb: sendUnaryData<any>) => void;
const handlers: Record<string, Handler> = {
  getService: (call, cb) => {
    const req = call.request as statev1.GetObjectRequest;
    if (req.name === 'redis' && req.namespace === 'default') return cb(null, stored);
    cb(toGrpcError(new SvcnetError(ErrorCode.NotFound, `services "${req.name}" not found`)));
  },
  listServices: (call, cb) => {
    const req = call.request as statev1.ListObjectsRequest;
    listRequests.push(req);
    // Two chunks: the first points at the second with a continue token.
    if (req.continue === '') return cb(null, statev1.ServiceList.fromPartial({ items: [stored], revision: 7, continue: 'chunk-2', remainingItemCount: 1 }));
    cb(null, statev1.ServiceList.fromPartial({ items: [stored], revision: 7, broken: [{ namespace: 'shop', name: 'bad', revision: 9, error: 'invalid wire type' }] }));
  },
  createService: (call, cb) => {
    const svc = (call.request as statev1.CreateServiceRequest).service!;
    if (svc.spec!.ports[0]!.port === 0) return cb(toGrpcError(invalidField('spec.ports[0].port', 0, 'must be between 1 and 65535, inclusive')));
    cb(null, v1.Service.fromPartial({ ...svc, spec: { ...svc.spec, clusterIp: '10.96.0.99' } }));
  },
  deleteService: (_call, cb) => cb(toGrpcError(new SvcnetError(ErrorCode.Unavailable, 'allocator unavailable'))),
};
const implementation: Record<string, UntypedHandleCall> = Object.fromEntries(
  Object.keys(statev1.StateService).map((method) => [
    method,
    handlers[method] ?? ((_call: unknown, cb: sendUnaryData<unknown>) => cb({ code: status.UNIMPLEMENTED, details: method })),
  ]),
);

let server: Server;
let api: GrpcStateApi;

beforeAll(async () => {
  server = new Server();
  server.addService(statev1.StateService, implementation);
  const p = await freePort();
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${p}`, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
  );
  api = new GrpcStateApi({ server: `127.0.0.1:${p}`, timeoutMs: 5000 });
});

afterAll(async () => {
  api?.close();
  await new Promise<void>((resolve) => server?.tryShutdown(() => resolve()));
});

describe('GrpcStateApi over a real gRPC connection', () => {
  it('gets a service as a domain object', async () => {
    expect(await api.get('Service', 'default', 'redis')).toEqual(serviceFromProto(stored));
  });

  it('sends namespace and all-namespaces on list, and reads every chunk', async () => {
    const first = await api.list('Service', { namespace: 'shop', allNamespaces: false, labelSelector: 'app=web' });
    await api.list('Service', { namespace: 'shop', allNamespaces: true, labelSelector: '' });
    expect(listRequests).toEqual([
      { namespace: 'shop', allNamespaces: false, labelSelector: 'app=web', limit: 500, continue: '' },
      { namespace: 'shop', allNamespaces: false, labelSelector: 'app=web', limit: 500, continue: 'chunk-2' },
      { namespace: '', allNamespaces: true, labelSelector: '', limit: 500, continue: '' },
      { namespace: '', allNamespaces: true, labelSelector: '', limit: 500, continue: 'chunk-2' },
    ]);
    expect(first.items).toHaveLength(2);
    expect(first.broken).toEqual([{ namespace: 'shop', name: 'bad', revision: 9, error: 'invalid wire type' }]);
  });

  it('returns what the server created', async () => {
    const created = await api.create('Service', service({ name: 'x', spec: { ports: [port({ port: 80 })] } }));
    expect(created.spec.clusterIP).toBe('10.96.0.99');
  });

  const failures: { name: string; run: () => Promise<unknown>; code: string; message: string; field?: string }[] = [
    { name: 'NOT_FOUND', run: () => api.get('Service', 'default', 'nope'), code: 'NOT_FOUND', message: 'services "nope" not found' },
    {
      name: 'INVALID_ARGUMENT with its field',
      run: () => api.create('Service', service({ name: 'x', spec: { ports: [port({ port: 0 })] } })),
      code: 'INVALID_ARGUMENT',
      message: 'spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive',
      field: 'spec.ports[0].port',
    },
    { name: 'UNAVAILABLE from the server itself', run: () => api.delete('Service', 'default', 'redis'), code: 'UNAVAILABLE', message: 'allocator unavailable' },
  ];
  it.each(failures)('maps $name to a SvcnetError', async ({ run, code, message, field }) => {
    const err = await run().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SvcnetError);
    expect(err).toMatchObject({ code, message, ...(field ? { field } : {}) });
  });

  it('reports a refused connection as kubectl does', async () => {
    const closedPort = await freePort();
    const lonely = new GrpcStateApi({ server: `127.0.0.1:${closedPort}`, timeoutMs: 5000 });
    try {
      const err = await lonely.get('Pod', 'default', 'x').then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ServerUnreachableError);
      expect((err as Error).message).toBe(
        `The connection to the server 127.0.0.1:${closedPort} was refused - did you specify the right host or port?`,
      );
    } finally {
      lonely.close();
    }
  });

  it('fails over to the next server when one refuses the connection, and keeps using the one that answered', async () => {
    const closedPort = await freePort();
    const live = (api as unknown as { servers: string[] }).servers[0]!;
    const both = new GrpcStateApi({ server: `127.0.0.1:${closedPort},${live}`, timeoutMs: 5000 });
    try {
      expect((await both.get('Service', 'default', 'redis')).spec.clusterIP).toBe('10.96.0.10');
      expect((both as unknown as { current: number }).current).toBe(1);
      // A server that answered with an error is not asked again elsewhere.
      const err = await both.get('Service', 'default', 'nope').catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'NOT_FOUND' });
    } finally {
      both.close();
    }
  });
});
