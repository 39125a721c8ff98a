import type { Server, ServerResponse } from 'node:http';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { Logger } from 'pino';
import { endpointsCodec, serviceCodec } from '@svcnet/api';
import type { Endpoints, Service } from '@svcnet/model';
import { closeHttp, listenHttp, registerBuildInfo, sendText } from '@svcnet/service-runtime';
import { connectStore, KindWatcher, type StoreConnection } from '@svcnet/store';
import { nameProblem } from './feed-check.js';
import type { DnsOptions } from './flags.js';
import { DnsMetrics } from './metrics.js';
import { DnsServer } from './server.js';
import { UpstreamForwarder } from './upstream.js';
import { ClusterZone } from './zone.js';

/** Parameters of a {@link DnsApp}. */
export interface DnsAppParams {
  options: DnsOptions;
  logger: Logger;
}

/** What /readyz says. */
export interface Readiness {
  ready: boolean;
  synced: boolean;
  natsConnected: boolean;
  services: number;
  revision: { services: number; endpoints: number };
  /** While NATS is away: since when (answers come from the state held then). */
  disconnectedSince?: string;
}

/**
 * svcnet-dns: list+watch of Services and Endpoints (the store's KindWatcher,
 * as the node agents use) into a {@link ClusterZone}, served by a
 * {@link DnsServer}. No query waits on NATS: answers come from memory, and
 * while NATS is away from the last state held (/readyz and a metric say so).
 */
export class DnsApp {
  readonly registry = new Registry();
  readonly zone: ClusterZone;
  readonly metrics: DnsMetrics;
  private readonly options: DnsOptions;
  private readonly log: Logger;
  private readonly upstream: UpstreamForwarder;
  private readonly server: DnsServer;
  private http: Server | undefined;
  private store: StoreConnection | undefined;
  private watchers: { services: KindWatcher<Service>; endpoints: KindWatcher<Endpoints> } | undefined;
  private listed = { services: false, endpoints: false };
  private connected = false;
  private disconnectedAt: Date | undefined;
  private stopped = false;

  constructor(params: DnsAppParams) {
    registerBuildInfo(this.registry, 'svcnet-dns');
    this.options = params.options;
    this.log = params.logger;
    this.zone = new ClusterZone({ domain: params.options.clusterDomain, ttlSeconds: params.options.ttlSeconds });
    this.metrics = new DnsMetrics(this.registry, () => {
      const cache = this.server.cacheStats();
      return { records: this.zone.size, names: this.zone.nameCount, services: this.zone.serviceCount, cacheEntries: cache.size, cacheHits: cache.hits, cacheMisses: cache.misses };
    });
    this.upstream = new UpstreamForwarder({ servers: params.options.upstream });
    this.server = new DnsServer({
      host: params.options.listen.host,
      port: params.options.listen.port,
      zone: this.zone,
      synced: () => this.synced,
      upstream: this.upstream,
      metrics: this.metrics,
      logger: this.log,
    });
  }

  get synced(): boolean {
    return this.listed.services && this.listed.endpoints;
  }

  /** The DNS port bound (useful with port 0). */
  get dnsPort(): number {
    return this.server.port;
  }

  /** The metrics port bound, if any. */
  get httpPort(): number | undefined {
    const a = this.http?.address();
    return a && typeof a === 'object' ? a.port : undefined;
  }

  /**
   * Binds the DNS and HTTP listeners, then connects to NATS in the
   * background (queries are answered from the start: SERVFAIL for cluster
   * names until the first full list, forwarded or REFUSED for others).
   */
  async start(): Promise<void> {
    collectDefaultMetrics({ register: this.registry });
    await this.server.start();
    if (this.options.metricsBindAddress) this.http = await listenHttp(this.options.metricsBindAddress, (req, res) => this.serveHttp(req.url ?? '/', req.method ?? 'GET', res));
    void this.connect().catch((err: unknown) => {
      if (!this.stopped) this.log.error({ err }, 'cannot connect to NATS');
    });
    this.log.info(
      { listen: `${this.options.listen.host}:${this.dnsPort}`, domain: this.zone.domain, ttl: this.zone.ttlSeconds, upstream: this.options.upstream },
      'svcnet-dns started',
    );
  }

  /** Resolves once both initial lists are applied (or rejects after `timeoutMs`). */
  async waitSynced(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.synced) {
      if (Date.now() > deadline) throw new Error(`not synced with ${this.options.natsUrl} within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([this.watchers?.services.stop(), this.watchers?.endpoints.stop()]);
    await this.server.stop();
    this.upstream.close();
    if (this.http) await closeHttp(this.http);
    this.http = undefined;
    await this.store?.close();
    // The connect started by start() is not awaited: while NATS has never been reachable it
    // waits forever; a connection that arrives after stop() closes itself.
  }

  readiness(): Readiness {
    return {
      ready: this.synced && this.connected,
      synced: this.synced,
      natsConnected: this.connected,
      services: this.zone.serviceCount,
      revision: { services: this.watchers?.services.revision ?? 0, endpoints: this.watchers?.endpoints.revision ?? 0 },
      ...(this.disconnectedAt ? { disconnectedSince: this.disconnectedAt.toISOString() } : {}),
    };
  }

  private async serveHttp(url: string, method: string, res: ServerResponse): Promise<void> {
    const path = url.split('?')[0];
    if (method !== 'GET' && method !== 'HEAD') return sendText(res, 405, 'text/plain', 'method not allowed\n');
    if (path === '/healthz' || path === '/livez') return sendText(res, 200, 'text/plain', 'ok\n');
    if (path === '/readyz') {
      const r = this.readiness();
      return sendText(res, r.ready ? 200 : 503, 'application/json', `${JSON.stringify(r)}\n`);
    }
    if (path === '/metrics') return sendText(res, 200, this.registry.contentType, await this.registry.metrics());
    sendText(res, 404, 'text/plain', 'not found\n');
  }

  private setConnected(up: boolean): void {
    if (up === this.connected) return;
    this.connected = up;
    this.disconnectedAt = up ? undefined : new Date();
    this.metrics.feedConnected.set(up ? 1 : 0);
    if (up) this.log.info('connected to NATS');
    else this.log.warn({ services: this.zone.serviceCount }, 'NATS connection lost; answering from the last state held');
  }

  private async connect(): Promise<void> {
    this.store = await connectStore({ ...this.options.nats, name: 'svcnet-dns', reconnectForever: true, logger: this.log });
    if (this.stopped) {
      await this.store.close();
      return;
    }
    this.setConnected(true);
    void this.watchStatus(this.store);
    this.watchers = { services: this.serviceWatcher(this.store), endpoints: this.endpointsWatcher(this.store) };
    void this.watchers.services.start();
    void this.watchers.endpoints.start();
  }

  private async watchStatus(store: StoreConnection): Promise<void> {
    for await (const s of store.nc.status()) {
      if (s.type === 'disconnect') this.setConnected(false);
      else if (s.type === 'reconnect') this.setConnected(true);
    }
  }

  private onListed(which: 'services' | 'endpoints'): void {
    this.listed[which] = true;
    if (this.synced) {
      this.metrics.feedSynced.set(1);
      this.log.info({ services: this.zone.serviceCount, records: this.zone.size }, 'zone synced');
    }
  }

  private revision(kind: 'Service' | 'Endpoints', revision: number): void {
    this.metrics.feedRevision.set({ kind }, revision);
  }

  private serviceWatcher(connection: StoreConnection): KindWatcher<Service> {
    return new KindWatcher<Service>({
      connection,
      kind: 'Service',
      codec: serviceCodec,
      logger: this.log,
      handlers: {
        onUpsert: (svc, meta) => {
          this.revision('Service', meta.revision);
          const problem = nameProblem(svc.metadata);
          if (problem) return void this.log.error({ key: meta.key, problem }, 'service skipped');
          this.zone.upsertService(svc);
        },
        onDelete: (key, meta) => {
          this.revision('Service', meta.revision);
          this.zone.deleteService(key.namespace, key.name);
        },
        onSynced: () => this.onListed('services'),
      },
    });
  }

  private endpointsWatcher(connection: StoreConnection): KindWatcher<Endpoints> {
    return new KindWatcher<Endpoints>({
      connection,
      kind: 'Endpoints',
      codec: endpointsCodec,
      logger: this.log,
      handlers: {
        onUpsert: (ep, meta) => {
          this.revision('Endpoints', meta.revision);
          if (nameProblem(ep.metadata)) return;
          this.zone.upsertEndpoints(ep);
        },
        onDelete: (key, meta) => {
          this.revision('Endpoints', meta.revision);
          this.zone.deleteEndpoints(key.namespace, key.name);
        },
        onSynced: () => this.onListed('endpoints'),
      },
    });
  }
}
