/**
 * A promise-based client of svcnet.v1.State for other programs: domain types
 * in and out, errors as SvcnetError (or ServerUnreachableError when no server
 * answered), TLS, per-call deadlines, chunked lists and failover between
 * state replicas.
 */
import { Metadata, status, type CallOptions, type ClientUnaryCall, type ServiceError } from '@grpc/grpc-js';
import {
  endpointsFromProto,
  endpointsToProto,
  fromGrpcError,
  podFromProto,
  podToProto,
  serviceFromProto,
  serviceToProto,
  statev1,
} from '@svcnet/api';
import type { Endpoints, ObjectKind, Pod, Service } from '@svcnet/model';
import { channelCredentials, type ClientTlsOptions } from './credentials.js';
import { classifyTransportError, ServerUnreachableError } from './errors.js';

/** The kinds of object the state service keeps. */
export type Kind = ObjectKind;

/** The object type of each kind. */
export interface KindObjects {
  Service: Service;
  Pod: Pod;
  Endpoints: Endpoints;
}

/** Where a client logs each call at debug level (a pino logger fits). */
export interface ClientLogger {
  debug(obj: object, msg: string): void;
}

export interface ListQuery {
  namespace: string;
  allNamespaces: boolean;
  /** Equality-based `k=v,k2=v2`; empty for all. */
  labelSelector: string;
}

/** A stored record the server cannot decode (it shows in lists so that it can be deleted). */
export interface BrokenObject {
  namespace: string;
  name: string;
  revision: number;
  error: string;
}

/** Every object a list matched (all chunks), plus the undecodable records among them. */
export interface ListResult<K extends Kind> {
  items: KindObjects[K][];
  broken: BrokenObject[];
}

/** kubectl's default --chunk-size: lists are read in chunks of this many objects. */
export const LIST_CHUNK_SIZE = 500;

/** One change-feed record of `State.Watch`, as domain types. */
export interface WatchUpdate<K extends Kind> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'SYNCED';
  /** Absent for SYNCED, and possibly for DELETED. */
  object?: KindObjects[K];
  namespace: string;
  name: string;
}

/** A running watch: `done` settles when the stream ends (or is cancelled), rejects on error. */
export interface WatchHandle {
  done: Promise<void>;
  cancel(): void;
}

/** CRUD on the three kinds of object the state service keeps, and their change feed. */
export interface StateApi {
  get<K extends Kind>(kind: K, namespace: string, name: string): Promise<KindObjects[K]>;
  /** Reads every chunk (`limit` + `continue`), so any number of objects can be listed. */
  list<K extends Kind>(kind: K, query: ListQuery): Promise<ListResult<K>>;
  create<K extends Kind>(kind: K, object: KindObjects[K]): Promise<KindObjects[K]>;
  update<K extends Kind>(kind: K, object: KindObjects[K]): Promise<KindObjects[K]>;
  delete<K extends Kind>(kind: K, namespace: string, name: string): Promise<void>;
  /** The current objects (ADDED), then SYNCED, then every change. `namespace` '' = all. */
  watch<K extends Kind>(kind: K, namespace: string, onUpdate: (u: WatchUpdate<K>) => void): WatchHandle;
  close(): void;
}

type Callback<Res> = (err: ServiceError | null, res: Res) => void;
type UnaryMethod<Req, Res> = (req: Req, md: Metadata, opts: Partial<CallOptions>, cb: Callback<Res>) => ClientUnaryCall;

export interface StateClientOptions {
  /** host:port of the state service, or several comma-separated (replicas: client-side failover). */
  server: string;
  /** Per-call deadline. */
  timeoutMs: number;
  /** TLS (and the client certificate the server authorizes); undefined = plaintext, explicitly. */
  tls?: ClientTlsOptions;
  /** Each call is logged at debug level. */
  logger?: ClientLogger;
}

/**
 * StateApi over gRPC (`svcnet.v1.State`). With several servers, a call that
 * cannot reach one (refused, unresolvable) goes to the next, and the one that
 * answered is used first from then on; a server that answered, even with an
 * error, is never asked again for the same call (a write is never sent twice).
 */
export class StateClient implements StateApi {
  private readonly servers: string[];
  private readonly clients: statev1.StateClient[];
  private current = 0;

  constructor(private readonly options: StateClientOptions) {
    this.servers = options.server.split(',').map((s) => s.trim().replace(/^https?:\/\//, '')).filter(Boolean);
    const creds = channelCredentials(options.tls);
    // A restarted replica is used again within seconds, not after grpc-js's default backoff (up to 120 s).
    this.clients = this.servers.map(
      (server) => new statev1.StateClient(server, creds, { 'grpc.initial_reconnect_backoff_ms': 200, 'grpc.max_reconnect_backoff_ms': 2_000 }),
    );
  }

  private get client(): statev1.StateClient {
    return this.clients[this.current]!;
  }

  private async call<Req, Res>(method: UnaryMethod<Req, Res>, req: Req): Promise<Res> {
    let unreachable: ServerUnreachableError | undefined;
    for (let tried = 0; tried < this.clients.length; tried++) {
      const i = (this.current + tried) % this.clients.length;
      try {
        const res = await this.callOne(i, method, req);
        this.current = i;
        return res;
      } catch (err) {
        // Only "could not connect" moves on; a deadline may have passed after the server acted on the call.
        const refused = err instanceof ServerUnreachableError && err.neverConnected;
        if (!refused) throw err;
        unreachable = err;
      }
    }
    throw unreachable!;
  }

  private callOne<Req, Res>(i: number, method: UnaryMethod<Req, Res>, req: Req): Promise<Res> {
    const started = Date.now();
    const server = this.servers[i]!;
    return new Promise((resolve, reject) => {
      // The generated methods live on the client class: the same function serves every replica's client.
      method.call(this.clients[i], req, new Metadata(), { deadline: started + this.options.timeoutMs }, (err, res) => {
        this.options.logger?.debug({ method: method.name, server, ms: Date.now() - started, code: err?.code ?? 0 }, 'state rpc');
        if (!err) return resolve(res);
        reject(classifyTransportError(server, err) ?? fromGrpcError(err));
      });
    });
  }

  async get<K extends Kind>(kind: K, namespace: string, name: string): Promise<KindObjects[K]> {
    const req = { namespace, name };
    const c = this.client;
    if (kind === 'Service') return serviceFromProto(await this.call(c.getService, req)) as KindObjects[K];
    if (kind === 'Pod') return podFromProto(await this.call(c.getPod, req)) as KindObjects[K];
    return endpointsFromProto(await this.call(c.getEndpoints, req)) as KindObjects[K];
  }

  async list<K extends Kind>(kind: K, query: ListQuery): Promise<ListResult<K>> {
    const c = this.client;
    const result: ListResult<K> = { items: [], broken: [] };
    let token = '';
    do {
      const req: statev1.ListObjectsRequest = {
        namespace: query.allNamespaces ? '' : query.namespace,
        allNamespaces: query.allNamespaces,
        labelSelector: query.labelSelector,
        limit: LIST_CHUNK_SIZE,
        continue: token,
      };
      const chunk =
        kind === 'Service'
          ? await this.call(c.listServices, req).then((r) => ({ ...r, items: r.items.map(serviceFromProto) }))
          : kind === 'Pod'
            ? await this.call(c.listPods, req).then((r) => ({ ...r, items: r.items.map(podFromProto) }))
            : await this.call(c.listEndpoints, req).then((r) => ({ ...r, items: r.items.map(endpointsFromProto) }));
      result.items.push(...(chunk.items as KindObjects[K][]));
      result.broken.push(...chunk.broken);
      token = chunk.continue;
    } while (token);
    return result;
  }

  async create<K extends Kind>(kind: K, object: KindObjects[K]): Promise<KindObjects[K]> {
    const c = this.client;
    if (kind === 'Service') {
      return serviceFromProto(await this.call(c.createService, { service: serviceToProto(object as Service) })) as KindObjects[K];
    }
    if (kind === 'Pod') return podFromProto(await this.call(c.createPod, { pod: podToProto(object as Pod) })) as KindObjects[K];
    const endpoints = endpointsToProto(object as Endpoints);
    return endpointsFromProto(await this.call(c.createEndpoints, { endpoints })) as KindObjects[K];
  }

  async update<K extends Kind>(kind: K, object: KindObjects[K]): Promise<KindObjects[K]> {
    const c = this.client;
    if (kind === 'Service') {
      return serviceFromProto(await this.call(c.updateService, { service: serviceToProto(object as Service) })) as KindObjects[K];
    }
    if (kind === 'Pod') return podFromProto(await this.call(c.updatePod, { pod: podToProto(object as Pod) })) as KindObjects[K];
    const endpoints = endpointsToProto(object as Endpoints);
    return endpointsFromProto(await this.call(c.updateEndpoints, { endpoints })) as KindObjects[K];
  }

  async delete<K extends Kind>(kind: K, namespace: string, name: string): Promise<void> {
    const req = { namespace, name };
    const c = this.client;
    if (kind === 'Service') await this.call(c.deleteService, req);
    else if (kind === 'Pod') await this.call(c.deletePod, req);
    else await this.call(c.deleteEndpoints, req);
  }

  watch<K extends Kind>(kind: K, namespace: string, onUpdate: (u: WatchUpdate<K>) => void): WatchHandle {
    const wireKind = { Service: statev1.ObjectKind.OBJECT_KIND_SERVICE, Pod: statev1.ObjectKind.OBJECT_KIND_POD, Endpoints: statev1.ObjectKind.OBJECT_KIND_ENDPOINTS }[kind];
    const stream = this.client.watch({ kinds: [wireKind], namespace });
    let cancelled = false;
    const types: Record<number, WatchUpdate<K>['type'] | undefined> = {
      [statev1.WatchEventType.WATCH_EVENT_TYPE_ADDED]: 'ADDED',
      [statev1.WatchEventType.WATCH_EVENT_TYPE_MODIFIED]: 'MODIFIED',
      [statev1.WatchEventType.WATCH_EVENT_TYPE_DELETED]: 'DELETED',
      [statev1.WatchEventType.WATCH_EVENT_TYPE_SYNCED]: 'SYNCED',
    };
    const done = new Promise<void>((resolve, reject) => {
      stream.on('data', (e: statev1.WatchEvent) => {
        const type = types[e.type];
        if (!type) return;
        const o = e.object;
        const object =
          o?.$case === 'service' ? serviceFromProto(o.value) : o?.$case === 'pod' ? podFromProto(o.value) : o?.$case === 'endpoints' ? endpointsFromProto(o.value) : undefined;
        onUpdate({
          type,
          ...(object ? { object: object as KindObjects[K] } : {}),
          namespace: e.namespace || object?.metadata.namespace || '',
          name: e.name || object?.metadata.name || '',
        });
      });
      stream.on('end', () => resolve());
      stream.on('error', (err: ServiceError) => {
        if (cancelled && err.code === status.CANCELLED) return resolve();
        reject(classifyTransportError(this.servers[this.current] ?? this.options.server, err) ?? fromGrpcError(err));
      });
    });
    return {
      done,
      cancel: () => {
        cancelled = true;
        stream.cancel();
      },
    };
  }

  close(): void {
    for (const c of this.clients) c.close();
  }
}
