import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { rcodeName } from './answer.js';

/** Query types counted by name; anything else is `other` (bounded label values). */
const KNOWN_TYPES = new Set(['A', 'AAAA', 'SRV', 'PTR', 'TXT', 'SOA', 'NS', 'ANY', 'CNAME', 'MX', 'HTTPS', 'SVCB', 'none']);

/** What the gauges read at scrape time. */
export interface DnsStats {
  records: number;
  names: number;
  services: number;
  cacheEntries?: number;
  cacheHits?: number;
  cacheMisses?: number;
}

/** svcnet-dns's Prometheus series (CoreDNS's names, `svcnet_dns_` prefix). */
export class DnsMetrics {
  readonly requests: Counter<'proto' | 'type' | 'rcode'>;
  readonly duration: Histogram<'proto'>;
  readonly malformed: Counter<'proto' | 'action'>;
  readonly truncated: Counter;
  readonly forwarded: Counter<'result'>;
  readonly zoneRecords: Gauge;
  readonly zoneNames: Gauge;
  readonly zoneServices: Gauge;
  readonly feedRevision: Gauge<'kind'>;
  readonly feedConnected: Gauge;
  readonly feedSynced: Gauge;
  readonly tcpConnections: Gauge;
  private readonly children = new Map<string, Counter.Internal>();
  private readonly durations = new Map<string, Histogram.Internal<'proto'>>();

  constructor(registry: Registry, zoneStats: () => DnsStats) {
    const registers = [registry];
    this.requests = new Counter({
      name: 'svcnet_dns_requests_total',
      help: 'DNS requests answered, by transport, query type and response code',
      labelNames: ['proto', 'type', 'rcode'],
      registers,
    });
    this.duration = new Histogram({
      name: 'svcnet_dns_request_duration_seconds',
      help: 'Time from a request read to its answer handed to the socket',
      labelNames: ['proto'],
      buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1, 4],
      registers,
    });
    this.malformed = new Counter({
      name: 'svcnet_dns_malformed_requests_total',
      help: 'Messages that could not be parsed: answered FORMERR, dropped (no header, or a response), or their TCP connection closed',
      labelNames: ['proto', 'action'],
      registers,
    });
    this.truncated = new Counter({ name: 'svcnet_dns_truncated_responses_total', help: 'UDP answers cut to the client buffer size (TC set)', registers });
    this.forwarded = new Counter({
      name: 'svcnet_dns_forward_requests_total',
      help: 'Queries for names outside the cluster domain sent upstream, by result',
      labelNames: ['result'],
      registers,
    });
    this.zoneRecords = new Gauge({ name: 'svcnet_dns_zone_records', help: 'Records held in memory', registers, collect() { this.set(zoneStats().records); } });
    this.zoneNames = new Gauge({ name: 'svcnet_dns_zone_names', help: 'Names holding records', registers, collect() { this.set(zoneStats().names); } });
    this.zoneServices = new Gauge({ name: 'svcnet_dns_zone_services', help: 'Services known from the feed', registers, collect() { this.set(zoneStats().services); } });
    this.feedRevision = new Gauge({
      name: 'svcnet_dns_feed_last_revision',
      help: 'Last store revision applied from the change feed, per kind',
      labelNames: ['kind'],
      registers,
    });
    this.feedConnected = new Gauge({ name: 'svcnet_dns_feed_connected', help: '1 while the NATS connection is up; answers come from the last state while 0', registers });
    this.feedSynced = new Gauge({ name: 'svcnet_dns_feed_synced', help: '1 once both initial lists (services, endpoints) were applied', registers });
    this.tcpConnections = new Gauge({ name: 'svcnet_dns_tcp_connections', help: 'Open DNS-over-TCP connections', registers });
    new Gauge({ name: 'svcnet_dns_cache_entries', help: 'Encoded answers held by the answer cache', registers, collect() { this.set(zoneStats().cacheEntries ?? 0); } });
    new Counter({
      name: 'svcnet_dns_cache_hits_total',
      help: 'Queries answered from the answer cache',
      registers,
      collect() {
        this.reset();
        this.inc(zoneStats().cacheHits ?? 0);
      },
    });
    new Counter({
      name: 'svcnet_dns_cache_misses_total',
      help: 'Queries answered from the zone (then cached)',
      registers,
      collect() {
        this.reset();
        this.inc(zoneStats().cacheMisses ?? 0);
      },
    });
  }

  /** Counts one answered request (children cached: label hashing per query is measurable at 10k/s). */
  countRequest(proto: string, qtype: string, rcode: number): void {
    const type = KNOWN_TYPES.has(qtype) ? qtype : 'other';
    const key = `${proto}|${type}|${rcode}`;
    let child = this.children.get(key);
    if (!child) {
      child = this.requests.labels(proto, type, rcodeName(rcode));
      this.children.set(key, child);
    }
    child.inc();
  }

  /** Observes one request's duration in seconds (child per transport, cached). */
  observeDuration(proto: string, seconds: number): void {
    let child = this.durations.get(proto);
    if (!child) {
      child = this.duration.labels(proto);
      this.durations.set(proto, child);
    }
    child.observe(seconds);
  }
}
