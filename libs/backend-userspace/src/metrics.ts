import { Counter, Gauge, Registry } from 'prom-client';

/** Byte counters of one live connection, read on scrape and at close. */
export interface ByteSource {
  /** Bytes received from the client so far. */
  bytesIn(): number;
  /** Bytes sent back to the client so far. */
  bytesOut(): number;
}

interface Tracked {
  service: string;
  source: ByteSource;
  countedIn: number;
  countedOut: number;
}

function reuse<T>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

/**
 * Per-service proxy metrics: active connections, connections total, bytes
 * in/out and dial failures. Bytes of long-lived connections are added on each
 * scrape, not only when they close.
 */
export class ProxyMetrics {
  readonly registry: Registry;
  private readonly active: Gauge<'service' | 'protocol'>;
  private readonly total: Counter<'service' | 'protocol'>;
  private readonly bytes: Counter<'service' | 'direction'>;
  private readonly dialFailures: Counter<'service'>;
  private readonly live = new Set<Tracked>();

  constructor(registry: Registry = new Registry()) {
    this.registry = registry;
    this.active = reuse(registry, 'svcnet_userspace_active_connections', () =>
      new Gauge({
        name: 'svcnet_userspace_active_connections',
        help: 'Proxied connections (TCP) or client sessions (UDP) open now, per service port.',
        labelNames: ['service', 'protocol'],
        registers: [registry],
      }),
    );
    this.total = reuse(registry, 'svcnet_userspace_connections_total', () =>
      new Counter({
        name: 'svcnet_userspace_connections_total',
        help: 'Client connections (TCP) or sessions (UDP) accepted, per service port.',
        labelNames: ['service', 'protocol'],
        registers: [registry],
      }),
    );
    const flush = (): void => this.flushLive();
    this.bytes = reuse(registry, 'svcnet_userspace_bytes_total', () =>
      new Counter({
        name: 'svcnet_userspace_bytes_total',
        help: 'Bytes proxied per service port; direction "in" = from clients, "out" = to clients.',
        labelNames: ['service', 'direction'],
        registers: [registry],
        collect: flush,
      }),
    );
    this.dialFailures = reuse(registry, 'svcnet_userspace_dial_failures_total', () =>
      new Counter({
        name: 'svcnet_userspace_dial_failures_total',
        help: 'Failed or timed-out connects to an endpoint, per service port.',
        labelNames: ['service'],
        registers: [registry],
      }),
    );
  }

  /** A connection/session opened; call the returned function exactly once when it ends. */
  opened(service: string, protocol: 'TCP' | 'UDP', source: ByteSource): () => void {
    this.total.inc({ service, protocol });
    this.active.inc({ service, protocol });
    const t: Tracked = { service, source, countedIn: 0, countedOut: 0 };
    this.live.add(t);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.account(t);
      this.live.delete(t);
      this.active.dec({ service, protocol });
    };
  }

  /** Adds bytes that bypass a tracked connection (UDP datagrams). */
  addBytes(service: string, direction: 'in' | 'out', n: number): void {
    if (n > 0) this.bytes.inc({ service, direction }, n);
  }

  dialFailed(service: string): void {
    this.dialFailures.inc({ service });
  }

  /** Drops the label sets of a deleted service port. */
  forget(service: string): void {
    for (const protocol of ['TCP', 'UDP'] as const) {
      this.active.remove({ service, protocol });
      this.total.remove({ service, protocol });
    }
    this.bytes.remove({ service, direction: 'in' });
    this.bytes.remove({ service, direction: 'out' });
    this.dialFailures.remove({ service });
  }

  private flushLive(): void {
    for (const t of this.live) this.account(t);
  }

  private account(t: Tracked): void {
    const bytesIn = t.source.bytesIn();
    const bytesOut = t.source.bytesOut();
    this.addBytes(t.service, 'in', bytesIn - t.countedIn);
    this.addBytes(t.service, 'out', bytesOut - t.countedOut);
    t.countedIn = bytesIn;
    t.countedOut = bytesOut;
  }
}
