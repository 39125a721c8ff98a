import { namespacedName } from '@svcnet/model';
import type { Endpoints, Service } from '@svcnet/model';
import { endpointsOf, servicePortsOf } from './service-port-map.js';
import type { ProxyIpFamily } from './service-port-map.js';
import type { EndpointInfo, ServicePortInfo } from './types.js';

/** One object's accumulated change: what was last applied and what is wanted now. */
export interface Change<V> {
  /** `<ns>/<name>` of the Service / Endpoints object. */
  key: string;
  previous: ReadonlyMap<string, V>;
  current: ReadonlyMap<string, V>;
  /** changeTimestamps (ms) of the updates folded into this change, for network programming latency. */
  changeTimes: readonly number[];
}

/**
 * The generic part of kube-proxy's change trackers: one {previous, current}
 * pair per object key; an update that brings an object back to what was last
 * applied drops the pair (a no-op). `drain` hands the pairs to a sync and
 * records `current` as applied.
 */
class ChangeTracker<Obj, V> {
  private readonly items = new Map<string, { previous: Map<string, V>; current: Map<string, V>; times: number[] }>();
  private readonly applied = new Map<string, Map<string, V>>();
  private total = 0;

  constructor(private readonly convert: (obj: Obj) => Map<string, V>) {}

  /** Records the object's new state (undefined = deleted). Returns true when a change is now pending for the key. */
  update(key: string, current: Obj | undefined, changeTime?: number): boolean {
    const next = current === undefined ? new Map<string, V>() : this.convert(current);
    let item = this.items.get(key);
    if (!item) {
      item = { previous: this.applied.get(key) ?? new Map(), current: next, times: [] };
      this.items.set(key, item);
    }
    item.current = next;
    if (changeTime !== undefined) item.times.push(changeTime);
    if (sameMap(item.previous, item.current)) {
      this.items.delete(key);
      return false;
    }
    this.total++;
    return true;
  }

  /** Number of objects with a pending change. */
  get pending(): number {
    return this.items.size;
  }

  /** Total updates that produced a pending change (kube-proxy's *_changes_total). */
  get totalChanges(): number {
    return this.total;
  }

  /** Takes every pending change and records it as applied. */
  drain(): Change<V>[] {
    const out: Change<V>[] = [];
    for (const [key, item] of this.items) {
      out.push({ key, previous: item.previous, current: item.current, changeTimes: item.times });
      if (item.current.size === 0) this.applied.delete(key);
      else this.applied.set(key, item.current);
    }
    this.items.clear();
    return out;
  }
}

function sameMap<V>(a: ReadonlyMap<string, V>, b: ReadonlyMap<string, V>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) {
    if (!b.has(k) || JSON.stringify(v) !== JSON.stringify(b.get(k))) return false;
  }
  return true;
}

function changeTimeOf(meta: { changeTimestamp?: Date }): number | undefined {
  return meta.changeTimestamp ? meta.changeTimestamp.getTime() : undefined;
}

/** Accumulates Service changes as ServicePortInfo maps (kube-proxy's ServiceChangeTracker). */
export class ServiceChangeTracker {
  private readonly tracker: ChangeTracker<Service, ServicePortInfo>;

  constructor(params: { family?: ProxyIpFamily } = {}) {
    this.tracker = new ChangeTracker((svc) => servicePortsOf(svc, params.family ?? 4));
  }

  /** A service was added or updated. Returns true when that left a change pending. */
  upsert(svc: Service): boolean {
    return this.tracker.update(namespacedName(svc.metadata.namespace, svc.metadata.name), svc, changeTimeOf(svc.metadata));
  }

  /** A service was deleted. */
  delete(namespace: string, name: string, changeTime?: number): boolean {
    return this.tracker.update(namespacedName(namespace, name), undefined, changeTime);
  }

  get pending(): number {
    return this.tracker.pending;
  }

  get totalChanges(): number {
    return this.tracker.totalChanges;
  }

  drain(): Change<ServicePortInfo>[] {
    return this.tracker.drain();
  }
}

/** Accumulates Endpoints changes as EndpointInfo lists per service port id (kube-proxy's EndpointsChangeTracker). */
export class EndpointsChangeTracker {
  private readonly tracker: ChangeTracker<Endpoints, readonly EndpointInfo[]>;

  constructor(params: { nodeName: string; family?: ProxyIpFamily }) {
    this.tracker = new ChangeTracker((ep) => endpointsOf(ep, params.nodeName, params.family ?? 4));
  }

  upsert(ep: Endpoints): boolean {
    return this.tracker.update(namespacedName(ep.metadata.namespace, ep.metadata.name), ep, changeTimeOf(ep.metadata));
  }

  delete(namespace: string, name: string, changeTime?: number): boolean {
    return this.tracker.update(namespacedName(namespace, name), undefined, changeTime);
  }

  get pending(): number {
    return this.tracker.pending;
  }

  get totalChanges(): number {
    return this.tracker.totalChanges;
  }

  drain(): Change<readonly EndpointInfo[]>[] {
    return this.tracker.drain();
  }
}
