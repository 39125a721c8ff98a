import { Counter, Gauge, type Registry } from 'prom-client';
import { rcodeName } from './answer.js';

/** Query types counted by name; anything else is `other` (bounded label values). */
const TYPES = ['A', 'AAAA', 'SRV', 'PTR', 'TXT', 'SOA', 'NS', 'ANY', 'CNAME', 'MX', 'HTTPS', 'SVCB', 'none', 'other'] as const;
const TYPE_INDEX = new Map<string, number>(TYPES.map((t, i) => [t, i]));
const OTHER = TYPES.length - 1;
const PROTOS = ['udp', 'tcp'] as const;
/** Rcodes 0–23 (FORMERR … BADVERS and the TSIG ones); anything above is folded into 23. */
const RCODES = 24;
const BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1, 4];

/**
 * Per-request counts in plain typed arrays, published at scrape time:
 * prom-client validates and hashes a label object on every `inc`/`observe`
 * (children included), which cost more per query than answering it from the
 * cache.
 */
class RequestTally {
  readonly requests = new Float64Array(PROTOS.length * TYPES.length * RCODES);
  readonly buckets = new Float64Array(PROTOS.length * (BUCKETS.length + 1));
  readonly sums = new Float64Array(PROTOS.length);
  readonly counts = new Float64Array(PROTOS.length);

  count(proto: number, qtype: string, rcode: number): void {
    const t = TYPE_INDEX.get(qtype) ?? OTHER;
    this.requests[(proto * TYPES.length + t) * RCODES + Math.min(rcode, RCODES - 1)]! += 1;
  }

  observe(proto: number, seconds: number): void {
    let b = 0;
    while (b < BUCKETS.length && seconds > BUCKETS[b]!) b++;
    this.buckets[proto * (BUCKETS.length + 1) + b]! += 1;
    this.sums[proto]! += seconds;
    this.counts[proto]! += 1;
  }
}

/** prom-client's metric interface, for a histogram whose counts live in a {@link RequestTally}. */
function durationHistogram(tally: RequestTally) {
  const name = 'svcnet_dns_request_duration_seconds';
  const help = 'Time from a request read to its answer handed to the socket';
  return {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    get: async () => {
      const values: { metricName: string; labels: Record<string, string | number>; value: number }[] = [];
      PROTOS.forEach((proto, p) => {
        let cumulative = 0;
        for (let b = 0; b <= BUCKETS.length; b++) {
          cumulative += tally.buckets[p * (BUCKETS.length + 1) + b]!;
          values.push({ metricName: `${name}_bucket`, labels: { le: b < BUCKETS.length ? BUCKETS[b]! : '+Inf', proto }, value: cumulative });
        }
        values.push({ metricName: `${name}_sum`, labels: { proto }, value: tally.sums[p]! });
        values.push({ metricName: `${name}_count`, labels: { proto }, value: tally.counts[p]! });
      });
      return { name, help, type: 'histogram', aggregator: 'sum', values };
    },
    reset: () => undefined,
  };
}

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
  private readonly tally = new RequestTally();

  constructor(registry: Registry, zoneStats: () => DnsStats) {
    const registers = [registry];
    const tally = this.tally;
    this.requests = new Counter({
      name: 'svcnet_dns_requests_total',
      help: 'DNS requests answered, by transport, query type and response code',
      labelNames: ['proto', 'type', 'rcode'],
      registers,
      collect() {
        this.reset();
        tally.requests.forEach((n, i) => {
          if (n === 0) return;
          const rcode = i % RCODES;
          const t = Math.floor(i / RCODES) % TYPES.length;
          const p = Math.floor(i / (RCODES * TYPES.length));
          this.inc({ proto: PROTOS[p]!, type: TYPES[t]!, rcode: rcodeName(rcode) }, n);
        });
      },
    });
    registry.registerMetric(durationHistogram(tally) as unknown as Parameters<Registry['registerMetric']>[0]);
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

  /** Counts one answered request. */
  countRequest(proto: 'udp' | 'tcp', qtype: string, rcode: number): void {
    this.tally.count(proto === 'tcp' ? 1 : 0, qtype, rcode);
  }

  /** Observes one request's duration in seconds. */
  observeDuration(proto: 'udp' | 'tcp', seconds: number): void {
    this.tally.observe(proto === 'tcp' ? 1 : 0, seconds);
  }
}
