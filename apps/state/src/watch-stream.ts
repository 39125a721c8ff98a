import type { ServerWritableStream } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { endpointsCodec, endpointsToProto, podCodec, podToProto, serviceCodec, serviceToProto, statev1 } from '@svcnet/api';
import type { Endpoints, ObjectKind, Pod, Service } from '@svcnet/model';
import { KindWatcher, type StoreConnection } from '@svcnet/store';

const { ObjectKind: WireKind, WatchEventType } = statev1;

const KINDS: { wire: statev1.ObjectKind; kind: ObjectKind }[] = [
  { wire: WireKind.OBJECT_KIND_SERVICE, kind: 'Service' },
  { wire: WireKind.OBJECT_KIND_POD, kind: 'Pod' },
  { wire: WireKind.OBJECT_KIND_ENDPOINTS, kind: 'Endpoints' },
];

function objectField(kind: ObjectKind, obj: unknown): statev1.WatchEvent['object'] {
  if (kind === 'Service') return { $case: 'service', value: serviceToProto(obj as Service) };
  if (kind === 'Pod') return { $case: 'pod', value: podToProto(obj as Pod) };
  return { $case: 'endpoints', value: endpointsToProto(obj as Endpoints) };
}

function codecFor(kind: ObjectKind): { decode(b: Uint8Array): unknown } {
  return kind === 'Service' ? serviceCodec : kind === 'Pod' ? podCodec : endpointsCodec;
}

/**
 * The gRPC `Watch` stream: one KindWatcher per requested kind, ADDED for the
 * initial objects, one SYNCED once every kind has listed, then
 * ADDED/MODIFIED/DELETED as the feed reports them. Ends when the client goes.
 */
export function serveWatch(
  call: ServerWritableStream<statev1.WatchRequest, statev1.WatchEvent>,
  params: { connection: StoreConnection; logger: Logger },
): void {
  const wanted = call.request.kinds.length > 0 ? KINDS.filter((k) => call.request.kinds.includes(k.wire)) : KINDS;
  const namespace = call.request.namespace || undefined;
  const pendingSync = new Set(wanted.map((k) => k.kind));
  let syncSent = false;
  const knownKeys = new Set<string>();
  let closed = false;
  const write = (ev: statev1.WatchEvent): void => {
    if (!closed) call.write(ev);
  };
  const watchers = wanted.map(
    ({ wire, kind }) =>
      new KindWatcher<unknown>({
        connection: params.connection,
        kind,
        codec: codecFor(kind),
        logger: params.logger,
        ...(namespace ? { namespace } : {}),
        handlers: {
          onUpsert: (obj, meta) => {
            const known = knownKeys.has(meta.key);
            knownKeys.add(meta.key);
            write({
              type: known ? WatchEventType.WATCH_EVENT_TYPE_MODIFIED : WatchEventType.WATCH_EVENT_TYPE_ADDED,
              kind: wire,
              revision: meta.revision,
              object: objectField(kind, obj),
              namespace: (obj as Service).metadata.namespace,
              name: (obj as Service).metadata.name,
            });
          },
          onDelete: (key, meta) => {
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
          onSynced: () => {
            pendingSync.delete(kind);
            if (pendingSync.size === 0 && !syncSent) {
              syncSent = true;
              const revision = Math.max(...watchers.map((w) => w.revision));
              write({ type: WatchEventType.WATCH_EVENT_TYPE_SYNCED, kind: 0, revision, object: undefined, namespace: '', name: '' });
            }
          },
        },
      }),
  );
  const stop = (): void => {
    if (closed) return;
    closed = true;
    Promise.all(watchers.map((w) => w.stop())).catch((err: unknown) => params.logger.warn({ err }, 'stopping a watch failed'));
  };
  call.on('cancelled', stop);
  call.on('close', stop);
  call.on('error', stop);
  for (const w of watchers) {
    w.start().catch((err: unknown) => {
      params.logger.warn({ err }, 'watch could not start');
      stop();
      call.destroy(err instanceof Error ? err : new Error(String(err)));
    });
  }
}
