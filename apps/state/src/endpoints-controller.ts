import type { Logger } from 'pino';
import { endpointsCodec, podCodec, serviceCodec } from '@svcnet/api';
import {
  computeEndpointSubsets,
  endpointsForService,
  endpointSubsetsEqual,
  objectKey,
  selectorMatches,
  SvcnetError,
} from '@svcnet/model';
import type { Endpoints, Pod, Service } from '@svcnet/model';
import { KindWatcher, type ObjectStore, type StoreConnection } from '@svcnet/store';
import { ENDPOINTS_CONTROLLER, MANAGED_BY_ANNOTATION } from './object-managers.js';

const RETRY_MS = 200;

export interface EndpointsControllerParams {
  connection: StoreConnection;
  endpoints: ObjectStore<Endpoints>;
  logger: Logger;
  clock?: () => Date;
}

function isManaged(ep: Endpoints | undefined): boolean {
  return ep?.metadata.annotations[MANAGED_BY_ANNOTATION] === ENDPOINTS_CONTROLLER;
}

/**
 * Keeps `endpoints.<ns>.<name>` equal to the pods selected by each service,
 * like Kubernetes' endpoints controller: informers on services, pods and
 * endpoints, a de-duplicating work queue of service keys, and idempotent
 * syncs written with compare-and-set (so several state replicas agree).
 */
export class EndpointsController {
  private readonly services: KindWatcher<Service>;
  private readonly pods: KindWatcher<Pod>;
  private readonly endpointsWatcher: KindWatcher<Endpoints>;
  private readonly queue = new Set<string>();
  private readonly podsByNamespace = new Map<string, Map<string, Pod>>();
  private running = false;
  private synced = false;
  private draining: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  /** Writes done (for tests and logs). */
  writes = 0;

  constructor(private readonly params: EndpointsControllerParams) {
    const logger = params.logger;
    this.services = new KindWatcher<Service>({
      connection: params.connection,
      kind: 'Service',
      codec: serviceCodec,
      logger,
      handlers: {
        onUpsert: (s) => this.enqueue(s.metadata.namespace, s.metadata.name),
        onDelete: (k) => this.enqueue(k.namespace, k.name),
        onSynced: () => this.enqueueAll(),
      },
    });
    this.pods = new KindWatcher<Pod>({
      connection: params.connection,
      kind: 'Pod',
      codec: podCodec,
      logger,
      handlers: {
        onUpsert: (p, meta) => {
          const old = this.indexPod(meta.key, p);
          this.enqueueForPod(p, old);
        },
        onDelete: (k, meta) => {
          const old = this.podsByNamespace.get(k.namespace)?.get(meta.key);
          this.podsByNamespace.get(k.namespace)?.delete(meta.key);
          if (old) this.enqueueForPod(old, undefined);
        },
        onSynced: () => this.enqueueAll(),
      },
    });
    this.endpointsWatcher = new KindWatcher<Endpoints>({
      connection: params.connection,
      kind: 'Endpoints',
      codec: endpointsCodec,
      logger,
      handlers: {
        // Someone else changed or removed endpoints: re-check them against the pods.
        onUpsert: (e) => this.enqueue(e.metadata.namespace, e.metadata.name),
        onDelete: (k) => this.enqueue(k.namespace, k.name),
        onSynced: () => this.enqueueAll(),
      },
    });
  }

  private indexPod(key: string, pod: Pod): Pod | undefined {
    let ns = this.podsByNamespace.get(pod.metadata.namespace);
    if (!ns) {
      ns = new Map();
      this.podsByNamespace.set(pod.metadata.namespace, ns);
    }
    const old = ns.get(key);
    ns.set(key, pod);
    return old;
  }

  /** Services whose selector matches the pod before or after the change (label changes move it). */
  private enqueueForPod(pod: Pod, old: Pod | undefined): void {
    for (const svc of this.services.snapshot().values()) {
      if (svc.metadata.namespace !== pod.metadata.namespace) continue;
      if (selectorMatches(svc.spec.selector, pod.metadata.labels) || (old && selectorMatches(svc.spec.selector, old.metadata.labels))) {
        this.enqueue(svc.metadata.namespace, svc.metadata.name);
      }
    }
  }

  private enqueueAll(): void {
    for (const s of this.services.snapshot().values()) this.enqueue(s.metadata.namespace, s.metadata.name);
    for (const e of this.endpointsWatcher.snapshot().values()) this.enqueue(e.metadata.namespace, e.metadata.name);
  }

  private enqueue(namespace: string, name: string): void {
    this.queue.add(`${namespace}/${name}`);
    this.kick();
  }

  private kick(): void {
    if (!this.running || !this.synced || this.draining) return;
    this.draining = this.drain().finally(() => {
      this.draining = undefined;
      if (this.queue.size > 0 && !this.retryTimer) this.kick();
    });
  }

  private async drain(): Promise<void> {
    while (this.running && this.queue.size > 0) {
      const [item] = this.queue;
      this.queue.delete(item!);
      const [namespace, name] = item!.split('/') as [string, string];
      try {
        await this.sync(namespace, name);
      } catch (err) {
        // Conflicts (another replica wrote first) and store outages: retry soon.
        const level = err instanceof SvcnetError && err.code === 'ABORTED' ? 'debug' : 'warn';
        this.params.logger[level]({ err, service: item }, 'endpoints sync failed; will retry');
        this.queue.add(item!);
        await new Promise<void>((resolve) => {
          this.retryTimer = setTimeout(() => {
            this.retryTimer = undefined;
            resolve();
          }, RETRY_MS);
        });
      }
    }
  }

  /** One service: compute, compare with what is stored, write only on a difference. */
  private async sync(namespace: string, name: string): Promise<void> {
    const svc = this.services.snapshot().get(objectKey('Service', namespace, name));
    const current = this.endpointsWatcher.snapshot().get(objectKey('Endpoints', namespace, name));
    const store = this.params.endpoints;
    if (!svc || Object.keys(svc.spec.selector).length === 0) {
      // Service gone or no longer selecting: drop what the controller wrote, keep the user's.
      if (current && isManaged(current)) {
        await store.delete(namespace, name, current.metadata.resourceVersion).catch((err: unknown) => {
          if (!(err instanceof SvcnetError && err.code === 'NOT_FOUND')) throw err;
        });
        this.writes++;
      }
      return;
    }
    const pods = [...(this.podsByNamespace.get(namespace)?.values() ?? [])];
    const subsets = computeEndpointSubsets(svc, pods);
    if (current && isManaged(current) && endpointSubsetsEqual(current.subsets, subsets)) return;
    const now = this.params.clock?.() ?? new Date();
    const desired = endpointsForService(svc, subsets, now);
    desired.metadata.annotations[MANAGED_BY_ANNOTATION] = ENDPOINTS_CONTROLLER;
    if (current) {
      desired.metadata.uid = current.metadata.uid;
      if (current.metadata.creationTimestamp) desired.metadata.creationTimestamp = current.metadata.creationTimestamp;
      await store.update(desired, current.metadata.resourceVersion);
    } else {
      desired.metadata.uid = svc.metadata.uid;
      await store.create(desired);
    }
    this.writes++;
    this.params.logger.debug(
      { service: `${namespace}/${name}`, addresses: subsets.reduce((n, s) => n + s.addresses.length, 0) },
      'endpoints updated',
    );
  }

  /** Objects in the informers' caches, per resource (what the store holds, as last seen). */
  objectCounts(): Record<'services' | 'pods' | 'endpoints', number> {
    return {
      services: this.services.snapshot().size,
      pods: this.pods.snapshot().size,
      endpoints: this.endpointsWatcher.snapshot().size,
    };
  }

  /** Service keys waiting for an endpoints sync. */
  get queueDepth(): number {
    return this.queue.size;
  }

  /** Starts the informers; syncs begin once all three have listed. */
  async start(): Promise<void> {
    this.running = true;
    await Promise.all([this.services.start(), this.pods.start(), this.endpointsWatcher.start()]);
    this.synced = true;
    this.enqueueAll();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await Promise.all([this.services.stop(), this.pods.stop(), this.endpointsWatcher.stop()]);
    await this.draining?.catch(() => undefined);
  }
}
