import type { Logger } from 'pino';
import {
  computeEndpointSubsets,
  endpointsForService,
  endpointSubsetsEqual,
  objectKey,
  parseObjectKey,
  selectorMatches,
  SvcnetError,
} from '@svcnet/model';
import type { Endpoints, Pod } from '@svcnet/model';
import type { ObjectStore } from '@svcnet/store';
import type { StateInformers } from './informers.js';
import { ENDPOINTS_CONTROLLER, MANAGED_BY_ANNOTATION } from './object-managers.js';

/** client-go's per-item exponential backoff, bounded (workqueue.DefaultControllerRateLimiter in spirit). */
const RETRY_BASE_MS = 200;
const RETRY_MAX_MS = 60_000;
/** Conflicts in a row on one key after which the store itself is read instead of the informer. */
const RACES_BEFORE_READ_THROUGH = 3;

export interface EndpointsControllerParams {
  informers: StateInformers;
  endpoints: ObjectStore<Endpoints>;
  logger: Logger;
  clock?: () => Date;
  /** First retry delay; doubles per failure of the same service up to 60 s. */
  retryBaseMs?: number;
}

function isManaged(ep: Endpoints | undefined): boolean {
  return ep?.metadata.annotations[MANAGED_BY_ANNOTATION] === ENDPOINTS_CONTROLLER;
}

/**
 * Keeps `endpoints.<ns>.<name>` equal to the pods selected by each service,
 * like Kubernetes' endpoints controller: shared informers on services, pods and
 * endpoints, a de-duplicating work queue of service keys with per-key
 * exponential backoff, and idempotent syncs written with compare-and-set (so
 * several state replicas agree). Endpoints of a selecting service are the
 * controller's: a damaged (undecodable) record there is overwritten.
 */
export class EndpointsController {
  private readonly informers: StateInformers;
  private readonly queue = new Set<string>();
  private readonly podsByNamespace = new Map<string, Map<string, Pod>>();
  private readonly failures = new Map<string, number>();
  /** Compare-and-set conflicts in a row per key (another replica's write, or a cache that is behind). */
  private readonly races = new Map<string, number>();
  private readonly retryTimers = new Map<string, NodeJS.Timeout>();
  private readonly unlisten: (() => void)[] = [];
  private running = false;
  private synced = false;
  private draining: Promise<void> | undefined;
  /** The service being synced right now (`ns/name`). */
  private inFlight: string | undefined;
  /** Writes done (for tests and logs). */
  writes = 0;

  constructor(private readonly params: EndpointsControllerParams) {
    this.informers = params.informers;
  }

  private listen(): void {
    const { services, pods, endpoints } = this.informers;
    this.unlisten.push(
      services.listen({
        onUpsert: (s) => this.enqueue(s.metadata.namespace, s.metadata.name),
        onDelete: (k) => this.enqueue(k.namespace, k.name),
        onSynced: () => this.enqueueAll(),
      }),
      pods.listen({
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
      }),
      endpoints.listen({
        // Someone else changed, removed or damaged endpoints: re-check them against the pods.
        onUpsert: (e) => this.enqueue(e.metadata.namespace, e.metadata.name),
        onDelete: (k) => this.enqueue(k.namespace, k.name),
        onUndecodable: (key) => this.enqueueKey(key),
        onSynced: () => this.enqueueAll(),
      }),
    );
    for (const [key, p] of pods.snapshot()) this.indexPod(key, p);
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
    for (const svc of this.informers.services.snapshot().values()) {
      if (svc.metadata.namespace !== pod.metadata.namespace) continue;
      if (selectorMatches(svc.spec.selector, pod.metadata.labels) || (old && selectorMatches(svc.spec.selector, old.metadata.labels))) {
        this.enqueue(svc.metadata.namespace, svc.metadata.name);
      }
    }
  }

  private enqueueAll(): void {
    for (const s of this.informers.services.snapshot().values()) this.enqueue(s.metadata.namespace, s.metadata.name);
    for (const e of this.informers.endpoints.snapshot().values()) this.enqueue(e.metadata.namespace, e.metadata.name);
    for (const key of this.informers.endpoints.broken().keys()) this.enqueueKey(key);
  }

  private enqueueKey(storeKey: string): void {
    const parsed = parseObjectKey(storeKey);
    if (parsed) this.enqueue(parsed.namespace, parsed.name);
  }

  private enqueue(namespace: string, name: string): void {
    const item = `${namespace}/${name}`;
    // A key waiting out its backoff is not retried early by unrelated events.
    if (this.retryTimers.has(item)) return;
    this.queue.add(item);
    this.kick();
  }

  private kick(): void {
    if (!this.running || !this.synced || this.draining) return;
    this.draining = this.drain().finally(() => {
      this.draining = undefined;
      if (this.queue.size > 0) this.kick();
    });
  }

  private async drain(): Promise<void> {
    while (this.running && this.queue.size > 0) {
      const [item] = this.queue;
      this.queue.delete(item!);
      const [namespace, name] = item!.split('/') as [string, string];
      this.inFlight = item;
      try {
        await this.sync(namespace, name, (this.races.get(item!) ?? 0) >= RACES_BEFORE_READ_THROUGH);
        this.failures.delete(item!);
        this.races.delete(item!);
      } catch (err) {
        this.retryLater(item!, err);
      } finally {
        this.inFlight = undefined;
      }
    }
  }

  /**
   * Retries this key later, the others now. Losing a race to another state
   * replica (a CAS conflict, a create that found the key taken) is normal and
   * is retried shortly, without backoff: the winner's write is already on its
   * way to our informer. Real failures (NATS away, a record we cannot write)
   * back off exponentially per key.
   */
  private retryLater(item: string, err: unknown): void {
    const raced = err instanceof SvcnetError && (err.code === 'ABORTED' || err.code === 'ALREADY_EXISTS');
    const base = this.params.retryBaseMs ?? RETRY_BASE_MS;
    let delay: number;
    if (raced) {
      this.races.set(item, (this.races.get(item) ?? 0) + 1);
      delay = Math.round(base / 2 + Math.random() * base);
      this.params.logger.debug({ service: item, retryInMs: delay, err: (err as Error).message }, 'endpoints written by another replica first; re-checking');
    } else {
      const n = (this.failures.get(item) ?? 0) + 1;
      this.failures.set(item, n);
      delay = Math.min(RETRY_MAX_MS, base * 2 ** (n - 1));
      this.params.logger.warn({ err, service: item, attempt: n, retryInMs: delay }, 'endpoints sync failed; will retry');
    }
    this.retryTimers.set(
      item,
      setTimeout(() => {
        this.retryTimers.delete(item);
        this.queue.add(item);
        this.kick();
      }, delay),
    );
  }

  /**
   * What the store holds for these endpoints, read from the store itself: after
   * repeated conflicts the informer's copy may be behind (a missed update would
   * otherwise make every compare-and-set fail forever). A stale informer is
   * listed again.
   */
  private async readThrough(namespace: string, name: string, cached: Endpoints | undefined): Promise<Endpoints | undefined> {
    let fresh: Endpoints | undefined;
    try {
      fresh = await this.params.endpoints.get(namespace, name);
    } catch (err) {
      if (!(err instanceof SvcnetError && err.code === 'NOT_FOUND')) throw err;
    }
    if (fresh?.metadata.resourceVersion !== cached?.metadata.resourceVersion) {
      this.params.logger.warn(
        { service: `${namespace}/${name}`, informer: cached?.metadata.resourceVersion, store: fresh?.metadata.resourceVersion },
        'endpoints informer behind the store; listing again',
      );
      this.informers.endpoints.resync();
    }
    return fresh;
  }

  /** One service: compute, compare with what is stored, write only on a difference. */
  private async sync(namespace: string, name: string, fromStore = false): Promise<void> {
    const svc = this.informers.services.snapshot().get(objectKey('Service', namespace, name));
    const key = objectKey('Endpoints', namespace, name);
    const broken = this.informers.endpoints.broken().get(key);
    const cached = broken ? undefined : this.informers.endpoints.snapshot().get(key);
    const current = fromStore && !broken ? await this.readThrough(namespace, name, cached) : cached;
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
    if (broken) {
      // The service selects pods, so these endpoints are ours: replace the damaged value.
      desired.metadata.uid = svc.metadata.uid;
      await store.update(desired, broken.revision);
      this.params.logger.warn({ service: `${namespace}/${name}`, revision: broken.revision }, 'overwrote undecodable endpoints');
    } else if (current) {
      desired.metadata.uid = current.metadata.uid;
      if (current.metadata.creationTimestamp) desired.metadata.creationTimestamp = current.metadata.creationTimestamp;
      await store.update(desired, current.metadata.resourceVersion);
    } else {
      desired.metadata.uid = svc.metadata.uid;
      await store.create(desired);
    }
    this.writes++;
    this.params.logger.debug(
      {
        service: `${namespace}/${name}`,
        addresses: subsets.reduce((n, s) => n + s.addresses.length, 0),
        notReady: subsets.reduce((n, s) => n + s.addresses.filter((a) => !a.ready).length, 0),
        replaced: current?.metadata.resourceVersion,
        podsRevision: this.informers.pods.revision,
      },
      'endpoints updated',
    );
  }

  /** True while a service's endpoints may still change: queued, being synced, or waiting to retry (or nothing listed yet). */
  isPending(namespace: string, name: string): boolean {
    const item = `${namespace}/${name}`;
    return !this.synced || this.queue.has(item) || this.retryTimers.has(item) || this.inFlight === item;
  }

  /** Service keys waiting for an endpoints sync (retries waiting out their backoff included). */
  get queueDepth(): number {
    return this.queue.size + this.retryTimers.size;
  }

  /** Attaches to the informers (start them first, or together); syncs begin once they have listed. */
  async start(): Promise<void> {
    this.running = true;
    this.listen();
    await this.informers.start();
    this.synced = true;
    this.enqueueAll();
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const t of this.retryTimers.values()) clearTimeout(t);
    this.retryTimers.clear();
    for (const u of this.unlisten.splice(0)) u();
    await this.draining?.catch(() => undefined);
  }
}
