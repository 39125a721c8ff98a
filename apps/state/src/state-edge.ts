import { status as grpcStatus, type handleUnaryCall } from '@grpc/grpc-js';
import type { GrpcServerMetrics } from '@svcnet/service-runtime';
import type { Logger } from 'pino';
import type { statev1 } from '@svcnet/api';
import {
  type CallAuthorizer,
  endpointsFromProto,
  endpointsToProto,
  podFromProto,
  podToProto,
  requestRefusal,
  serviceFromProto,
  serviceToProto,
  unaryHandler,
  v1,
} from '@svcnet/api';
import {
  ErrorCode,
  labelsMatch,
  parseLabelSelector,
  SvcnetError,
  validateNamespaceFilter,
  validateObjectKey,
} from '@svcnet/model';
import type { ObjectKind } from '@svcnet/model';
import type { BrokenRecord, Deleted, ObjectStore, StateStores, StoredObject } from '@svcnet/store';
import type { ListEntry, ListPager } from './list-pager.js';
import type { EndpointsManager, PodManager } from './object-managers.js';
import type { ServiceManager } from './service-manager.js';
import { endStream, type WatchHub } from './watch-stream.js';

function unaryWith(authorize: CallAuthorizer | undefined) {
  return <Req, Res>(method: string, log: Logger, metrics: GrpcServerMetrics | undefined, fn: (req: Req) => Promise<Res>): handleUnaryCall<Req, Res> =>
    unaryHandler(method, log, fn, { ...(metrics ? { observe: (m: string) => metrics.unary(m) } : {}), ...(authorize ? { authorize } : {}) });
}

function required<T>(value: T | undefined, field: string): T {
  if (value === undefined) throw new SvcnetError(ErrorCode.InvalidArgument, 'Required value', { field });
  return value;
}

const ns = (n: string): string => n || 'default';

/** The namespace and name a get or delete addresses, checked before anything reaches NATS. */
function keyOf(kind: ObjectKind, req: { namespace: string; name: string }): { namespace: string; name: string } {
  validateObjectKey(kind, ns(req.namespace), req.name);
  return { namespace: ns(req.namespace), name: req.name };
}

/** One chunk of a list, with the wire fields every list response shares. */
interface WireChunk<W> {
  items: W[];
  revision: number;
  continue: string;
  remainingItemCount: number;
  broken: statev1.BrokenObject[];
}

function sortKey(m: { namespace: string; name: string }): string {
  return `${m.namespace}/${m.name}`;
}

async function listChunk<T extends StoredObject, W>(
  p: { store: ObjectStore<T>; pager: ListPager; toWire: (o: T) => W },
  req: statev1.ListObjectsRequest,
): Promise<WireChunk<W>> {
  validateNamespaceFilter(req.namespace);
  const selector = parseLabelSelector(req.labelSelector);
  const namespace = req.allNamespaces ? undefined : ns(req.namespace);
  const chunk = await p.pager.page<T>(
    { kind: p.store.kind, namespace: namespace ?? '', allNamespaces: req.allNamespaces, labelSelector: req.labelSelector },
    req.limit,
    req.continue,
    async () => {
      const { items, revision, broken } = await p.store.list(namespace);
      const entries: ListEntry<T>[] = [
        ...items.filter((o) => labelsMatch(selector, o.metadata.labels)).map((o) => ({ key: sortKey(o.metadata), object: o })),
        // A damaged record has no labels to select on: it is shown whatever the selector, so it gets noticed.
        ...broken.map((b) => ({ key: sortKey(b), broken: b })),
      ];
      entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      return { entries, revision };
    },
  );
  return {
    items: chunk.items.map(p.toWire),
    revision: chunk.revision,
    continue: chunk.continueToken,
    remainingItemCount: chunk.remaining,
    broken: chunk.broken.map((b: BrokenRecord) => ({ ...b })),
  };
}

/** What a delete answers: the deleted object, or its name only when the stored value was undecodable. */
function deletedOr<T, W>(d: Deleted<T>, toWire: (o: T) => W, stub: (meta: { namespace: string; name: string }) => W): W {
  return d.object !== undefined ? toWire(d.object) : stub({ namespace: d.namespace, name: d.name });
}

export interface StateEdgeParams {
  stores: StateStores;
  services: ServiceManager;
  pods: PodManager;
  endpoints: EndpointsManager;
  watches: WatchHub;
  pager: ListPager;
  logger: Logger;
  /** grpc_server_* series; none in tests that do not need them. */
  metrics?: GrpcServerMetrics;
  /** Checks each caller (mutual TLS); none on a plaintext server. */
  authorize?: CallAuthorizer;
}

/** svcnet.v1.State handlers: wire types in and out, domain managers in between. */
export function stateHandlers(p: StateEdgeParams): statev1.StateServer {
  const log = p.logger;
  const m = p.metrics;
  const pager = p.pager;
  const unary = unaryWith(p.authorize);
  return {
    createService: unary('CreateService', log, m, async (r: statev1.CreateServiceRequest) =>
      serviceToProto(await p.services.create(serviceFromProto(required(r.service, 'service')))),
    ),
    getService: unary('GetService', log, m, async (r: statev1.GetObjectRequest) => {
      const k = keyOf('Service', r);
      return serviceToProto(await p.stores.services.get(k.namespace, k.name));
    }),
    listServices: unary('ListServices', log, m, (r: statev1.ListObjectsRequest) =>
      listChunk({ store: p.stores.services, pager, toWire: serviceToProto }, r),
    ),
    updateService: unary('UpdateService', log, m, async (r: statev1.UpdateServiceRequest) =>
      serviceToProto(await p.services.update(serviceFromProto(required(r.service, 'service')))),
    ),
    deleteService: unary('DeleteService', log, m, async (r: statev1.DeleteObjectRequest) => {
      const k = keyOf('Service', r);
      return deletedOr(await p.services.delete(k.namespace, k.name), serviceToProto, (metadata) => v1.Service.fromPartial({ metadata }));
    }),
    createPod: unary('CreatePod', log, m, async (r: statev1.CreatePodRequest) =>
      podToProto(await p.pods.create(podFromProto(required(r.pod, 'pod')))),
    ),
    getPod: unary('GetPod', log, m, async (r: statev1.GetObjectRequest) => {
      const k = keyOf('Pod', r);
      return podToProto(await p.stores.pods.get(k.namespace, k.name));
    }),
    listPods: unary('ListPods', log, m, (r: statev1.ListObjectsRequest) => listChunk({ store: p.stores.pods, pager, toWire: podToProto }, r)),
    updatePod: unary('UpdatePod', log, m, async (r: statev1.UpdatePodRequest) =>
      podToProto(await p.pods.update(podFromProto(required(r.pod, 'pod')))),
    ),
    deletePod: unary('DeletePod', log, m, async (r: statev1.DeleteObjectRequest) => {
      const k = keyOf('Pod', r);
      return deletedOr(await p.pods.delete(k.namespace, k.name), podToProto, (metadata) => v1.Pod.fromPartial({ metadata }));
    }),
    createEndpoints: unary('CreateEndpoints', log, m, async (r: statev1.CreateEndpointsRequest) =>
      endpointsToProto(await p.endpoints.create(endpointsFromProto(required(r.endpoints, 'endpoints')))),
    ),
    getEndpoints: unary('GetEndpoints', log, m, async (r: statev1.GetObjectRequest) => {
      const k = keyOf('Endpoints', r);
      return endpointsToProto(await p.stores.endpoints.get(k.namespace, k.name));
    }),
    listEndpoints: unary('ListEndpoints', log, m, (r: statev1.ListObjectsRequest) =>
      listChunk({ store: p.stores.endpoints, pager, toWire: endpointsToProto }, r),
    ),
    updateEndpoints: unary('UpdateEndpoints', log, m, async (r: statev1.UpdateEndpointsRequest) =>
      endpointsToProto(await p.endpoints.update(endpointsFromProto(required(r.endpoints, 'endpoints')))),
    ),
    deleteEndpoints: unary('DeleteEndpoints', log, m, async (r: statev1.DeleteObjectRequest) => {
      const k = keyOf('Endpoints', r);
      return deletedOr(await p.endpoints.delete(k.namespace, k.name), endpointsToProto, (metadata) => v1.Endpoints.fromPartial({ metadata }));
    }),
    watch: (call) => {
      const ended = m?.serverStream('Watch') ?? (() => undefined);
      call.once('cancelled', () => ended(grpcStatus.CANCELLED));
      call.once('error', () => ended(grpcStatus.UNKNOWN));
      call.once('close', () => ended(grpcStatus.OK));
      const refusal = requestRefusal(call.request);
      if (refusal) return endStream(call, refusal);
      try {
        p.authorize?.(call, 'Watch');
      } catch (err) {
        return endStream(call, err as SvcnetError);
      }
      p.watches.serve(call);
    },
  };
}
