import type { ServerWritableStream } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { endpointsToProto, podToProto, serviceToProto, statev1, toGrpcError } from '@svcnet/api';
import { ErrorCode, SvcnetError, validateNamespaceFilter } from '@svcnet/model';
import type { Endpoints, ObjectKind, Pod, Service } from '@svcnet/model';
import type { Informer, StateInformers } from './informers.js';

const { ObjectKind: WireKind, WatchEventType } = statev1;

const KINDS: { wire: statev1.ObjectKind; kind: ObjectKind }[] = [
  { wire: WireKind.OBJECT_KIND_SERVICE, kind: 'Service' },
  { wire: WireKind.OBJECT_KIND_POD, kind: 'Pod' },
  { wire: WireKind.OBJECT_KIND_ENDPOINTS, kind: 'Endpoints' },
];

/** Events a stream may have queued (beyond its initial list) before it is ended as too slow. */
const MAX_PENDING_EVENTS = 10_000;

function objectField(kind: ObjectKind, obj: unknown): statev1.WatchEvent['object'] {
  if (kind === 'Service') return { $case: 'service', value: serviceToProto(obj as Service) };
  if (kind === 'Pod') return { $case: 'pod', value: podToProto(obj as Pod) };
  return { $case: 'endpoints', value: endpointsToProto(obj as Endpoints) };
}

/**
 * Ends a server stream with an error status. (`destroy(err)` would not: grpc-js
 * sends the status from its 'error' handler, which a destroyed stream never runs.)
 */
export function endStream(call: ServerWritableStream<unknown, unknown>, err: SvcnetError): void {
  call.emit('error', toGrpcError(err));
}

/** The client a stream counts against: its address without the port (its certificate identity once TLS is on). */
export type ClientIdentity = (call: ServerWritableStream<statev1.WatchRequest, statev1.WatchEvent>) => string;

export const peerHost: ClientIdentity = (call) => {
  const peer = call.getPeer();
  const m = /^(?:ipv[46]:)?(\[[^\]]+\]|[^:]+(?::[^:]+)*?)(?::\d+)?$/.exec(peer);
  return m?.[1] ?? peer;
};

export interface WatchHubParams {
  informers: StateInformers;
  logger: Logger;
  /** Open streams one client may hold; more are refused with RESOURCE_EXHAUSTED. */
  maxStreamsPerClient: number;
  clientIdentity?: ClientIdentity;
}

/**
 * Serves every gRPC `Watch` stream from the state service's shared informers:
 * the informers' current objects first (ADDED), one SYNCED, then each change.
 * A stream costs one listener per kind in memory — no NATS consumer — and
 * removes them when it ends, however it ends. Each client may hold a bounded
 * number of streams; a client that stops reading is cut off instead of
 * buffering without end.
 */
export class WatchHub {
  private readonly perClient = new Map<string, number>();
  private readonly params: WatchHubParams;
  private readonly identity: ClientIdentity;

  constructor(params: WatchHubParams) {
    this.params = params;
    this.identity = params.clientIdentity ?? peerHost;
  }

  /** Open streams, per client (for metrics and tests). */
  openStreams(): number {
    let n = 0;
    for (const c of this.perClient.values()) n += c;
    return n;
  }

  serve(call: ServerWritableStream<statev1.WatchRequest, statev1.WatchEvent>): void {
    const refuse = (err: SvcnetError): void => endStream(call, err);
    const namespace = call.request.namespace ?? '';
    try {
      validateNamespaceFilter(namespace);
      for (const [i, k] of (call.request.kinds ?? []).entries()) {
        if (!KINDS.some((x) => x.wire === k)) {
          throw new SvcnetError(ErrorCode.InvalidArgument, `Unsupported value: ${k}: supported values: 1 (services), 2 (pods), 3 (endpoints)`, {
            field: `kinds[${i}]`,
          });
        }
      }
    } catch (err) {
      refuse(err as SvcnetError);
      return;
    }
    const client = this.identity(call);
    const open = this.perClient.get(client) ?? 0;
    if (open >= this.params.maxStreamsPerClient) {
      this.params.logger.warn({ client, open }, 'watch refused: too many streams from one client');
      refuse(
        new SvcnetError(
          ErrorCode.ResourceExhausted,
          `too many watch streams from ${client}: ${open} open, the limit is ${this.params.maxStreamsPerClient} (svcnet-state --max-watches-per-client)`,
        ),
      );
      return;
    }
    this.perClient.set(client, open + 1);

    const wanted = call.request.kinds.length > 0 ? KINDS.filter((k) => call.request.kinds.includes(k.wire)) : KINDS;
    const inNamespace = (ns: string): boolean => namespace === '' || ns === namespace;
    const knownKeys = new Set<string>();
    const unlisten: (() => void)[] = [];
    let closed = false;
    let budget = MAX_PENDING_EVENTS;
    const close = (): void => {
      if (closed) return;
      closed = true;
      for (const u of unlisten.splice(0)) u();
      const left = (this.perClient.get(client) ?? 1) - 1;
      if (left > 0) this.perClient.set(client, left);
      else this.perClient.delete(client);
    };
    const write = (ev: statev1.WatchEvent): void => {
      if (closed) return;
      call.write(ev);
      if (call.writableLength > budget) {
        this.params.logger.warn({ client, pending: call.writableLength }, 'watch stream ended: the client does not keep up');
        close();
        refuse(new SvcnetError(ErrorCode.ResourceExhausted, `watch client too slow: more than ${budget} events pending`));
      }
    };
    call.on('cancelled', close);
    call.on('close', close);
    call.on('error', close);

    const attach = <T extends { metadata: { namespace: string; name: string; resourceVersion: number } }>(wire: statev1.ObjectKind, kind: ObjectKind, informer: Informer<T>): void => {
      unlisten.push(
        informer.listen({
          onUpsert: (obj, meta) => {
            if (!inNamespace(obj.metadata.namespace)) return;
            const known = knownKeys.has(meta.key);
            knownKeys.add(meta.key);
            write({
              type: known ? WatchEventType.WATCH_EVENT_TYPE_MODIFIED : WatchEventType.WATCH_EVENT_TYPE_ADDED,
              kind: wire,
              revision: meta.revision,
              object: objectField(kind, obj),
              namespace: obj.metadata.namespace,
              name: obj.metadata.name,
            });
          },
          onDelete: (key, meta) => {
            if (!inNamespace(key.namespace)) return;
            knownKeys.delete(meta.key);
            write({
              type: WatchEventType.WATCH_EVENT_TYPE_DELETED,
              kind: wire,
              revision: meta.revision,
              object: meta.last !== undefined ? objectField(kind, meta.last) : undefined,
              namespace: key.namespace,
              name: key.name,
            });
          },
        }),
      );
      for (const [key, obj] of informer.snapshot()) {
        if (!inNamespace(obj.metadata.namespace)) continue;
        knownKeys.add(key);
        write({
          type: WatchEventType.WATCH_EVENT_TYPE_ADDED,
          kind: wire,
          revision: obj.metadata.resourceVersion,
          object: objectField(kind, obj),
          namespace: obj.metadata.namespace,
          name: obj.metadata.name,
        });
      }
    };
    const { informers } = this.params;
    // The initial list is written synchronously with the listeners attached, so no change falls between them.
    budget = Number.MAX_SAFE_INTEGER;
    let revision = 0;
    for (const { wire, kind } of wanted) {
      const informer = informers.of(kind) as Informer<Service>;
      attach(wire, kind, informer);
      revision = Math.max(revision, informer.revision);
    }
    write({ type: WatchEventType.WATCH_EVENT_TYPE_SYNCED, kind: 0, revision, object: undefined, namespace: '', name: '' });
    budget = call.writableLength + MAX_PENDING_EVENTS;
  }
}
