import { status as grpcStatus, type handleUnaryCall } from '@grpc/grpc-js';
import type { GrpcServerMetrics } from '@svcnet/service-runtime';
import type { Logger } from 'pino';
import type { statev1 } from '@svcnet/api';
import {
  endpointsFromProto,
  endpointsToProto,
  podFromProto,
  podToProto,
  serviceFromProto,
  serviceToProto,
  unaryHandler,
} from '@svcnet/api';
import { ErrorCode, labelsMatch, parseLabelSelector, SvcnetError } from '@svcnet/model';
import type { ObjectMeta } from '@svcnet/model';
import type { ObjectStore, StateStores, StoreConnection, StoredObject } from '@svcnet/store';
import type { EndpointsManager, PodManager } from './object-managers.js';
import type { ServiceManager } from './service-manager.js';
import { serveWatch } from './watch-stream.js';

function unary<Req, Res>(method: string, log: Logger, metrics: GrpcServerMetrics | undefined, fn: (req: Req) => Promise<Res>): handleUnaryCall<Req, Res> {
  return unaryHandler(method, log, fn, metrics ? (m) => metrics.unary(m) : undefined);
}

function required<T>(value: T | undefined, field: string): T {
  if (value === undefined) throw new SvcnetError(ErrorCode.InvalidArgument, 'Required value', { field });
  return value;
}

function requireName(req: { name: string }): void {
  if (!req.name) throw new SvcnetError(ErrorCode.InvalidArgument, 'Required value: name is required', { field: 'metadata.name' });
}

async function listObjects<T extends StoredObject>(
  store: ObjectStore<T>,
  req: statev1.ListObjectsRequest,
): Promise<{ items: T[]; revision: number }> {
  const selector = parseLabelSelector(req.labelSelector);
  const { items, revision } = await store.list(req.allNamespaces ? undefined : req.namespace || 'default');
  const byKey = (m: ObjectMeta): string => `${m.namespace}/${m.name}`;
  const filtered = items
    .filter((o) => labelsMatch(selector, o.metadata.labels))
    .sort((a, b) => byKey(a.metadata).localeCompare(byKey(b.metadata)));
  return { items: filtered, revision };
}

export interface StateEdgeParams {
  stores: StateStores;
  connection: StoreConnection;
  services: ServiceManager;
  pods: PodManager;
  endpoints: EndpointsManager;
  logger: Logger;
  /** grpc_server_* series; none in tests that do not need them. */
  metrics?: GrpcServerMetrics;
}

/** svcnet.v1.State handlers: wire types in and out, domain managers in between. */
export function stateHandlers(p: StateEdgeParams): statev1.StateServer {
  const log = p.logger;
  const m = p.metrics;
  const ns = (n: string): string => n || 'default';
  return {
    createService: unary('CreateService', log, m, async (r: statev1.CreateServiceRequest) =>
      serviceToProto(await p.services.create(serviceFromProto(required(r.service, 'service')))),
    ),
    getService: unary('GetService', log, m, async (r: statev1.GetObjectRequest) => {
      requireName(r);
      return serviceToProto(await p.stores.services.get(ns(r.namespace), r.name));
    }),
    listServices: unary('ListServices', log, m, async (r: statev1.ListObjectsRequest) => {
      const { items, revision } = await listObjects(p.stores.services, r);
      return { items: items.map(serviceToProto), revision };
    }),
    updateService: unary('UpdateService', log, m, async (r: statev1.UpdateServiceRequest) =>
      serviceToProto(await p.services.update(serviceFromProto(required(r.service, 'service')))),
    ),
    deleteService: unary('DeleteService', log, m, async (r: statev1.DeleteObjectRequest) => {
      requireName(r);
      return serviceToProto(await p.services.delete(ns(r.namespace), r.name));
    }),
    createPod: unary('CreatePod', log, m, async (r: statev1.CreatePodRequest) =>
      podToProto(await p.pods.create(podFromProto(required(r.pod, 'pod')))),
    ),
    getPod: unary('GetPod', log, m, async (r: statev1.GetObjectRequest) => {
      requireName(r);
      return podToProto(await p.stores.pods.get(ns(r.namespace), r.name));
    }),
    listPods: unary('ListPods', log, m, async (r: statev1.ListObjectsRequest) => {
      const { items, revision } = await listObjects(p.stores.pods, r);
      return { items: items.map(podToProto), revision };
    }),
    updatePod: unary('UpdatePod', log, m, async (r: statev1.UpdatePodRequest) =>
      podToProto(await p.pods.update(podFromProto(required(r.pod, 'pod')))),
    ),
    deletePod: unary('DeletePod', log, m, async (r: statev1.DeleteObjectRequest) => {
      requireName(r);
      return podToProto(await p.pods.delete(ns(r.namespace), r.name));
    }),
    createEndpoints: unary('CreateEndpoints', log, m, async (r: statev1.CreateEndpointsRequest) =>
      endpointsToProto(await p.endpoints.create(endpointsFromProto(required(r.endpoints, 'endpoints')))),
    ),
    getEndpoints: unary('GetEndpoints', log, m, async (r: statev1.GetObjectRequest) => {
      requireName(r);
      return endpointsToProto(await p.stores.endpoints.get(ns(r.namespace), r.name));
    }),
    listEndpoints: unary('ListEndpoints', log, m, async (r: statev1.ListObjectsRequest) => {
      const { items, revision } = await listObjects(p.stores.endpoints, r);
      return { items: items.map(endpointsToProto), revision };
    }),
    updateEndpoints: unary('UpdateEndpoints', log, m, async (r: statev1.UpdateEndpointsRequest) =>
      endpointsToProto(await p.endpoints.update(endpointsFromProto(required(r.endpoints, 'endpoints')))),
    ),
    deleteEndpoints: unary('DeleteEndpoints', log, m, async (r: statev1.DeleteObjectRequest) => {
      requireName(r);
      return endpointsToProto(await p.endpoints.delete(ns(r.namespace), r.name));
    }),
    watch: (call) => {
      const ended = m?.serverStream('Watch') ?? (() => undefined);
      call.once('cancelled', () => ended(grpcStatus.CANCELLED));
      call.once('error', () => ended(grpcStatus.UNKNOWN));
      call.once('close', () => ended(grpcStatus.OK));
      serveWatch(call, { connection: p.connection, logger: log });
    },
  };
}
