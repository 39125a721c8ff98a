import type { SessionAffinityInfo } from '@svcnet/proxy-core';
import { systemClock, type Clock } from './clock.js';

/** A backend address as the proxy dials it. */
export interface Endpoint {
  host: string;
  port: number;
}

interface Affinity {
  endpoint: string;
  lastUsedMs: number;
}

interface ServiceBalance {
  endpoints: Endpoint[];
  keys: string[];
  index: number;
  affinity: SessionAffinityInfo;
  byClient: Map<string, Affinity>;
}

export function endpointKey(e: Endpoint): string {
  return e.host.includes(':') ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`;
}

/**
 * Round-robin over ready endpoints with optional ClientIP affinity, like
 * kube-proxy's userspace LoadBalancerRR. One instance serves every service port.
 */
export class RoundRobinBalancer {
  private readonly services = new Map<string, ServiceBalance>();
  private readonly clock: Clock;

  constructor(params: { clock?: Clock } = {}) {
    this.clock = params.clock ?? systemClock;
  }

  /**
   * Sets the endpoints of one service port. An unchanged list keeps the
   * round-robin position; a changed one restarts it and forgets affinities to
   * endpoints that are gone (existing connections are not touched).
   */
  update(id: string, endpoints: readonly Endpoint[], affinity: SessionAffinityInfo): void {
    const keys = endpoints.map(endpointKey);
    const current = this.services.get(id);
    if (!current) {
      this.services.set(id, { endpoints: [...endpoints], keys, index: 0, affinity, byClient: new Map() });
      return;
    }
    if (affinity.kind !== current.affinity.kind) current.byClient.clear();
    current.affinity = affinity;
    if (keys.length === current.keys.length && keys.every((k, i) => k === current.keys[i])) return;
    const live = new Set(keys);
    for (const [client, a] of current.byClient) if (!live.has(a.endpoint)) current.byClient.delete(client);
    current.endpoints = [...endpoints];
    current.keys = keys;
    current.index = 0;
  }

  /** Forgets a service port (deleted service). */
  remove(id: string): void {
    this.services.delete(id);
  }

  /**
   * The endpoint for a new connection from `clientIP`, or undefined when the
   * service has none. A retry after a failed dial passes the endpoints already
   * tried in `exclude`: the sticky endpoint is then ignored and round-robin
   * skips them (unless every endpoint was tried), so concurrent retries cannot
   * keep landing on the same dead endpoint.
   */
  next(id: string, clientIP: string, exclude?: ReadonlySet<string>): Endpoint | undefined {
    const s = this.services.get(id);
    if (!s || s.endpoints.length === 0) return undefined;
    const sticky = s.affinity.kind === 'ClientIP' ? s.affinity : undefined;
    const retry = exclude !== undefined && exclude.size > 0;
    const now = this.clock.now();
    if (sticky && !retry) {
      const a = s.byClient.get(clientIP);
      if (a && now - a.lastUsedMs < sticky.timeoutSeconds * 1000) {
        const i = s.keys.indexOf(a.endpoint);
        if (i >= 0) {
          a.lastUsedMs = now;
          return s.endpoints[i];
        }
      }
    }
    const n = s.endpoints.length;
    let i = s.index % n;
    if (retry) {
      // First endpoint from the cursor on that was not tried; none left = plain round-robin.
      for (let k = 0; k < n; k++) {
        const j = (s.index + k) % n;
        if (!exclude.has(s.keys[j]!)) {
          i = j;
          break;
        }
      }
    }
    s.index = (i + 1) % n;
    const chosen = s.endpoints[i]!;
    if (sticky) s.byClient.set(clientIP, { endpoint: s.keys[i]!, lastUsedMs: now });
    return chosen;
  }

  /** Drops expired affinity records (called periodically; bounds memory). */
  pruneExpired(): number {
    const now = this.clock.now();
    let dropped = 0;
    for (const s of this.services.values()) {
      if (s.affinity.kind !== 'ClientIP') continue;
      const ttl = s.affinity.timeoutSeconds * 1000;
      for (const [client, a] of s.byClient) {
        if (now - a.lastUsedMs >= ttl) {
          s.byClient.delete(client);
          dropped++;
        }
      }
    }
    return dropped;
  }

  /** Number of live affinity records of one service port (for tests and describe). */
  affinityCount(id: string): number {
    return this.services.get(id)?.byClient.size ?? 0;
  }
}
