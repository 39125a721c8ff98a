import type { Logger } from 'pino';
import { endpointsCodec, podCodec, serviceCodec } from '@svcnet/api';
import type { Endpoints, ObjectKind, Pod, Service } from '@svcnet/model';
import { KindWatcher, type StoreConnection, type UndecodableRecord, type WatchHandlers } from '@svcnet/store';

/** What an informer listener hears; every method is optional. */
export type InformerListener<T> = Partial<WatchHandlers<T>>;

/**
 * One list+watch of a kind shared by everything in the state service (the
 * endpoints controller and every gRPC Watch stream), as client-go's shared
 * informers: a thousand watch streams cost a thousand listeners in memory, not
 * a thousand NATS consumers.
 */
export class Informer<T> {
  readonly kind: ObjectKind;
  private readonly watcher: KindWatcher<T>;
  private readonly listeners = new Set<InformerListener<T>>();

  constructor(params: { connection: StoreConnection; kind: ObjectKind; codec: { decode(b: Uint8Array): T }; logger: Logger }) {
    this.kind = params.kind;
    // One throwing listener (a Watch stream closing under us) must not keep
    // the event from the others — the endpoints controller among them.
    const each = (fn: (l: InformerListener<T>) => void): void => {
      for (const l of this.listeners) {
        try {
          fn(l);
        } catch (err) {
          params.logger.error({ err, kind: params.kind }, 'informer listener threw');
        }
      }
    };
    this.watcher = new KindWatcher<T>({
      connection: params.connection,
      kind: params.kind,
      codec: params.codec,
      logger: params.logger,
      handlers: {
        onUpsert: (obj, meta) => each((l) => l.onUpsert?.(obj, meta)),
        onDelete: (key, meta) => each((l) => l.onDelete?.(key, meta)),
        onSynced: () => each((l) => l.onSynced?.()),
        onUndecodable: (key: string, record: UndecodableRecord) => each((l) => l.onUndecodable?.(key, record)),
      },
    });
  }

  /** Adds a listener; returns the function that removes it. */
  listen(listener: InformerListener<T>): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Listeners attached now (for metrics and tests). */
  get listenerCount(): number {
    return this.listeners.size;
  }

  snapshot(): ReadonlyMap<string, T> {
    return this.watcher.snapshot();
  }

  broken(): ReadonlyMap<string, UndecodableRecord> {
    return this.watcher.broken();
  }

  get revision(): number {
    return this.watcher.revision;
  }

  start(): Promise<void> {
    return this.watcher.start();
  }

  /** Lists the kind again from the store (keys gone meanwhile are reported deleted). */
  resync(): void {
    this.watcher.resync();
  }

  stop(): Promise<void> {
    return this.watcher.stop();
  }
}

/** The state service's three informers. */
export class StateInformers {
  readonly services: Informer<Service>;
  readonly pods: Informer<Pod>;
  readonly endpoints: Informer<Endpoints>;

  constructor(params: { connection: StoreConnection; logger: Logger }) {
    const { connection, logger } = params;
    this.services = new Informer<Service>({ connection, kind: 'Service', codec: serviceCodec, logger });
    this.pods = new Informer<Pod>({ connection, kind: 'Pod', codec: podCodec, logger });
    this.endpoints = new Informer<Endpoints>({ connection, kind: 'Endpoints', codec: endpointsCodec, logger });
  }

  /** The informer of a kind. */
  of(kind: ObjectKind): Informer<Service> | Informer<Pod> | Informer<Endpoints> {
    return kind === 'Service' ? this.services : kind === 'Pod' ? this.pods : this.endpoints;
  }

  /** Resolves once all three have listed. */
  async start(): Promise<void> {
    await Promise.all([this.services.start(), this.pods.start(), this.endpoints.start()]);
  }

  async stop(): Promise<void> {
    await Promise.all([this.services.stop(), this.pods.stop(), this.endpoints.stop()]);
  }

  /** Objects held, per resource (what the store holds, as last seen). */
  objectCounts(): Record<'services' | 'pods' | 'endpoints', number> {
    return { services: this.services.snapshot().size, pods: this.pods.snapshot().size, endpoints: this.endpoints.snapshot().size };
  }

  /** Keys whose values cannot be decoded, per resource. */
  brokenCounts(): Record<'services' | 'pods' | 'endpoints', number> {
    return { services: this.services.broken().size, pods: this.pods.broken().size, endpoints: this.endpoints.broken().size };
  }
}
