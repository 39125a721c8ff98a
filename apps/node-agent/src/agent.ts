import type { Server } from 'node:http';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { buildInfo, registerBuildInfo } from '@svcnet/service-runtime';
import type { Logger } from 'pino';
import { endpointsCodec, serviceCodec } from '@svcnet/api';
import { ipInCidrs, type Endpoints, type Service } from '@svcnet/model';
import { ProcessNetExec, type NetExec } from '@svcnet/netexec';
import { Proxier, SystemClock, type Clock, type NodeConfig, type ProxyBackend } from '@svcnet/proxy-core';
import { connectStore, FleetFeed, KindFeed, type StoreConnection } from '@svcnet/store';
import { createBackend, otherBackends, type BackendParams } from './backends.js';
import { guardService, resolveControlPlane, type ControlPlaneEndpoint } from './control-plane-guard.js';
import { checkEndpoints, checkService } from './feed-guard.js';
import type { AgentOptions } from './flags.js';
import { evaluateHealth, type HealthReport } from './healthz.js';
import { closeServer, listen, registerProbeCounters } from './http-server.js';
import { NodeReporter } from './node-reporter.js';
import { ObservedBackend } from './observed-backend.js';
import { healthCheckHosts, healthCheckTargets, ServiceHealthServer } from './service-health.js';

/** Parameters of a {@link NodeAgent}. */
export interface NodeAgentParams {
  options: AgentOptions;
  logger: Logger;
  exec?: NetExec;
  clock?: Clock;
  /** Render only, never touch the kernel (`--dump-rules`). */
  dryRun?: boolean;
  /** Reported in the node record (default: this build's version). */
  version?: string;
}

/** The node's settings every backend sees, from the flags. */
export function nodeConfigFrom(options: AgentOptions): NodeConfig {
  return {
    nodeName: options.nodeName,
    nodeIPs: options.nodeIPs,
    clusterCIDR: options.clusterCIDR,
    masqueradeAll: options.masqueradeAll,
    nodePortAddresses: options.nodePortAddresses,
    localhostNodePorts: options.localhostNodePorts,
    serviceCIDRs: options.serviceCIDRs,
  };
}

/**
 * svcnet's kube-proxy: the state bucket's change feed (a shared snapshot,
 * then republished records) → Services and Endpoints caches → Proxier
 * (change trackers + bounded-frequency sync) → one backend; and the node's
 * own record in the nodes bucket (what is programmed, how syncs go).
 */
export class NodeAgent {
  readonly registry = new Registry();
  private readonly options: AgentOptions;
  private readonly log: Logger;
  private readonly exec: NetExec;
  private readonly clock: Clock;
  private readonly dryRun: boolean;
  private readonly feedRejected: Counter<'kind'>;
  private readonly controlPlaneRefused: Counter;
  private readonly feedConnected: Gauge;
  private readonly feedUndecodable: Gauge<'kind'>;
  /** The agent's own NATS servers: no service address may capture them. */
  private controlPlane: ControlPlaneEndpoint[] = [];
  /** What the guard last took out of each service (logged when it changes). */
  private guarded = new Map<string, string>();
  /** Since when the NATS connection has been down (ms since the epoch); undefined while connected. */
  private feedDownSince: number | undefined;
  private backend: ObservedBackend<unknown> | undefined;
  private proxier: Proxier<unknown> | undefined;
  private store: StoreConnection | undefined;
  private feed: FleetFeed | undefined;
  private watchers: { services: KindFeed<Service>; endpoints: KindFeed<Endpoints> } | undefined;
  private reporter: NodeReporter | undefined;
  private readonly version: string;
  private servers: Server[] = [];
  private serviceHealth: ServiceHealthServer | undefined;
  private serviceHealthSync: Promise<void> = Promise.resolve();
  private feedSyncedLogged = false;
  private rejected = new Map<string, string>();

  constructor(params: NodeAgentParams) {
    this.options = params.options;
    this.log = params.logger;
    this.exec = params.exec ?? new ProcessNetExec();
    this.clock = params.clock ?? new SystemClock();
    this.dryRun = params.dryRun ?? false;
    this.version = params.version ?? buildInfo().version;
    registerBuildInfo(this.registry, 'svcnet-agent');
    this.feedRejected = new Counter({
      name: 'svcnet_agent_feed_objects_rejected_total',
      help: 'Objects from the change feed refused as unusable (the last good version stays programmed)',
      labelNames: ['kind'],
      registers: [this.registry],
    });
    this.controlPlaneRefused = new Counter({
      name: 'svcnet_agent_control_plane_addresses_refused_total',
      help: "Service addresses not programmed because they equal one of the agent's own NATS servers (address and port)",
      registers: [this.registry],
    });
    this.feedConnected = new Gauge({
      name: 'svcnet_agent_feed_connected',
      help: '1 while the agent is connected to NATS (its change feed), else 0',
      registers: [this.registry],
    });
    this.feedUndecodable = new Gauge({
      name: 'svcnet_agent_feed_undecodable_records',
      help: 'Records on the change feed that cannot be decoded (skipped; the last good version stays programmed)',
      labelNames: ['kind'],
      registers: [this.registry],
    });
  }

  private backendParams(): BackendParams {
    return { exec: this.exec, options: this.options, config: nodeConfigFrom(this.options), logger: this.log };
  }

  /**
   * Builds the backend, removes other modes' leftovers, opens the HTTP
   * endpoints and starts watching. Resolves once the watch is started (the
   * initial lists arrive in the background; /healthz tells when programmed).
   */
  async start(): Promise<void> {
    const { options } = this;
    const inner = (await createBackend(options.proxyMode, {
      ...this.backendParams(),
      ...(this.dryRun ? {} : { registry: this.registry }),
    })) as ProxyBackend<unknown>;
    this.backend = new ObservedBackend(inner, {
      onApplied: (_plan, result) => {
        this.log.debug({ calls: result.calls, durationMs: result.durationMs }, 'applied plan');
        this.syncServiceHealth();
      },
      onFailed: () => undefined, // the proxier logs, counts and retries with a full sync
    }, { dryRun: this.dryRun, now: () => this.clock.now() });
    if (!this.dryRun) await this.removeOtherModesLeftovers();

    if (!this.dryRun) collectDefaultMetrics({ register: this.registry });
    const reporter = new NodeReporter({
      nodeName: options.nodeName,
      nodeIPs: options.nodeIPs,
      proxyMode: options.proxyMode,
      version: this.version,
      intervalMs: options.nodeStatusIntervalMs,
      clock: this.clock,
      feedRevision: () => this.feed?.revision ?? 0,
      programmingIdle: () => this.proxier?.idle() ?? false,
      counts: () => this.proxier?.status().counts ?? { services: 0, servicePorts: 0, endpoints: 0 },
      health: () => this.health(),
      logger: this.log,
    });
    this.reporter = reporter;
    this.proxier = new Proxier<unknown>({
      backend: this.backend,
      config: nodeConfigFrom(options),
      clock: this.clock,
      minSyncPeriodMs: options.minSyncPeriodMs,
      syncPeriodMs: options.syncPeriodMs,
      metrics: this.registry,
      logger: this.log.child({ component: 'proxier' }),
      observer: reporter,
    });
    this.proxier.start();
    if (!this.dryRun) {
      await this.startHttp();
      this.serviceHealth = new ServiceHealthServer({
        hosts: healthCheckHosts(options.nodeIPs, options.nodePortAddresses, ipInCidrs),
        proxyHealthy: () => this.health().healthy,
        logger: this.log.child({ component: 'service-health' }),
      });
    }

    this.controlPlane = await resolveControlPlane(options.nats.url);
    this.store = await connectStore({
      ...options.nats,
      name: `svcnet-agent ${options.nodeName}`,
      reconnectForever: !this.dryRun,
      logger: this.log,
    });
    this.watchFeedConnection(this.store);
    this.watchers = { services: this.serviceWatcher(), endpoints: this.endpointsWatcher() };
    this.feed = this.changeFeed(this.store, this.watchers);
    void this.feed.start();
    // --dump-rules only reads: it must not report a node.
    if (!this.dryRun) reporter.start(this.store);
    this.log.info(
      { mode: options.proxyMode, nodeIPs: options.nodeIPs, syncPeriodMs: options.syncPeriodMs, minSyncPeriodMs: options.minSyncPeriodMs },
      'svcnet-agent started',
    );
  }

  /** Resolves when both initial lists have been delivered (or rejects after `timeoutMs`). */
  async waitForInitialLists(timeoutMs: number): Promise<void> {
    const w = this.watchers;
    if (!w) throw new Error('agent not started');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no initial list from ${this.options.nats.url} within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([this.feed!.start(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Runs one sync now and returns the plan it produced, as text (for `--dump-rules`). */
  async renderNow(): Promise<string> {
    if (!this.proxier || !this.backend) throw new Error('agent not started');
    this.proxier.onSynced();
    await this.proxier.syncNow();
    const plan = this.backend.lastApplied();
    const status = this.proxier.status();
    if (plan === undefined) throw new Error(`rendering failed: ${status.lastError ?? 'no plan'}`);
    return this.backend.describe(plan);
  }

  /**
   * Opens and closes the health check node ports of LoadBalancer services
   * with externalTrafficPolicy Local, after every programmed change
   * (serialized: one sync at a time).
   */
  private syncServiceHealth(): void {
    const server = this.serviceHealth;
    const state = this.proxier?.state();
    if (!server || !state) return;
    const targets = healthCheckTargets(state);
    this.serviceHealthSync = this.serviceHealthSync.then(() => server.sync(targets)).catch((err: unknown) => {
      this.log.error({ err }, 'service health check sync failed');
    });
  }

  /** Stops watching and syncing; programmed rules stay (as kube-proxy leaves them). */
  async stop(): Promise<void> {
    await this.feed?.stop();
    await this.proxier?.stop();
    await this.reporter?.stop();
    await this.serviceHealthSync;
    await this.serviceHealth?.close();
    await Promise.all(this.servers.map((s) => closeServer(s)));
    this.servers = [];
    await this.store?.close();
  }

  /** The /healthz answer now. */
  health(): HealthReport {
    const status = this.proxier?.status() ?? { pendingSince: this.clock.now(), lastSyncAt: undefined };
    return evaluateHealth({
      status,
      now: this.clock.now(),
      timeoutMs: 2 * this.options.syncPeriodMs,
      nodeName: this.options.nodeName,
      feed: { downSince: this.feedDownSince, timeoutMs: this.options.syncPeriodMs },
    });
  }

  /**
   * Says when the feed goes away and comes back (rules stay programmed
   * meanwhile, but no change reaches this node), for logs, the
   * svcnet_agent_feed_connected metric and /healthz.
   */
  private watchFeedConnection(store: StoreConnection): void {
    const connected = this.feedConnected;
    connected.set(1);
    void (async () => {
      for await (const s of store.nc.status()) {
        if (s.type === 'disconnect') {
          this.feedDownSince ??= this.clock.now();
          connected.set(0);
          this.reporter?.reportNow();
          this.log.warn({ server: String((s as { server?: unknown }).server ?? '') }, 'lost the connection to NATS: the change feed is paused (programmed rules stay); reconnecting');
        } else if (s.type === 'reconnect') {
          const downMs = this.feedDownSince === undefined ? 0 : this.clock.now() - this.feedDownSince;
          this.feedDownSince = undefined;
          connected.set(1);
          this.reporter?.reportNow();
          this.log.info({ server: String((s as { server?: unknown }).server ?? ''), downMs }, 'reconnected to NATS: the change feed resumes');
        } else if (s.type === 'error') {
          this.log.warn({ err: (s as { error?: unknown }).error }, 'NATS connection error');
        }
      }
    })().catch(() => undefined);
  }

  private plan(): string | undefined {
    const plan = this.proxier?.lastPlan();
    return plan === undefined || !this.backend ? undefined : this.backend.describe(plan);
  }

  private debugState(): unknown {
    const state = this.proxier?.state();
    return {
      nodeName: this.options.nodeName,
      proxyMode: this.options.proxyMode,
      config: nodeConfigFrom(this.options),
      status: this.proxier?.status(),
      health: this.health(),
      watch: this.watchers && {
        revision: this.feed?.revision,
        programmedRevision: this.reporter?.programmedRevision,
        resyncs: this.feed?.resyncCount,
        gapRecordsFetched: this.feed?.gapRecordsFetched,
        services: { revision: this.watchers.services.revision, decodeErrors: this.watchers.services.decodeErrors },
        endpoints: { revision: this.watchers.endpoints.revision, decodeErrors: this.watchers.endpoints.decodeErrors },
      },
      rejectedObjects: Object.fromEntries(this.rejected),
      controlPlane: this.controlPlane,
      controlPlaneAddressesRefused: Object.fromEntries(this.guarded),
      feedConnected: this.feedDownSince === undefined,
      services: state ? [...state.services.values()] : [],
      endpoints: state ? Object.fromEntries(state.endpoints) : {},
    };
  }

  private async startHttp(): Promise<void> {
    const { healthzBindAddress: healthz, metricsBindAddress: metrics } = this.options;
    const health = () => this.health();
    const debug = { plan: () => this.plan(), state: () => this.debugState() };
    const probes = registerProbeCounters(this.registry);
    const onMetrics = { health, probes, registry: this.registry, debug, proxyMode: this.options.proxyMode };
    if (healthz && metrics && healthz.host === metrics.host && healthz.port === metrics.port) {
      this.servers.push(await listen(healthz, onMetrics));
      return;
    }
    if (healthz) this.servers.push(await listen(healthz, { health, probes }));
    if (metrics) this.servers.push(await listen(metrics, onMetrics));
  }

  /**
   * kube-proxy removes the other modes' rules when it starts, so switching
   * modes never leaves two data planes fighting. A mode whose kernel support
   * is missing (IPVS here) fails its cleanup: that is reported, not fatal.
   */
  private async removeOtherModesLeftovers(): Promise<void> {
    for (const backend of await otherBackends(this.options.proxyMode, this.backendParams())) {
      try {
        await backend.cleanup();
      } catch (err) {
        this.log.warn({ err, mode: backend.mode }, 'could not remove leftovers of another proxy mode');
      }
    }
  }

  private reject(kind: 'Service' | 'Endpoints', key: string, problem: string): void {
    this.feedRejected.inc({ kind });
    this.rejected.set(key, problem);
    this.log.error({ key, problem }, 'refusing an unusable object from the change feed; keeping the last good version');
  }

  /** The service minus any address that would capture this agent's own NATS connection (logged once per change). */
  private withoutControlPlane(svc: Service, key: string): Service {
    const { service, dropped } = guardService(svc, this.controlPlane, this.options.nodeIPs);
    const summary = dropped.join('; ');
    if (dropped.length > 0 && this.guarded.get(key) !== summary) {
      this.controlPlaneRefused.inc(dropped.length);
      this.log.warn({ key, refused: dropped }, "not programming service addresses that equal this agent's own NATS servers");
    }
    if (dropped.length > 0) this.guarded.set(key, summary);
    else this.guarded.delete(key);
    return service;
  }

  private countUndecodable(): void {
    const gauge = this.feedUndecodable;
    if (!this.watchers) return;
    gauge.set({ kind: 'Service' }, this.watchers.services.broken().size);
    gauge.set({ kind: 'Endpoints' }, this.watchers.endpoints.broken().size);
  }

  /** Both caches have their initial state: like kube-proxy, the first sync waits for that. */
  private onFeedSynced(): void {
    if (!this.feedSyncedLogged) {
      this.feedSyncedLogged = true;
      this.log.info(
        { services: this.watchers?.services.snapshot().size, endpoints: this.watchers?.endpoints.snapshot().size, revision: this.feed?.revision },
        'feed synced: initial state received; programming',
      );
    }
    this.proxier?.onSynced();
  }

  /** One feed for both kinds: a shared snapshot to start, then the republished records. */
  private changeFeed(connection: StoreConnection, kinds: { services: KindFeed<Service>; endpoints: KindFeed<Endpoints> }): FleetFeed {
    return new FleetFeed({
      connection,
      prefixes: [kinds.services.prefix, kinds.endpoints.prefix],
      logger: this.log,
      handlers: {
        onBase: (base) => {
          kinds.services.applyBase(base);
          kinds.endpoints.applyBase(base);
        },
        onChange: (e) => void (kinds.services.applyChange(e) || kinds.endpoints.applyChange(e)),
        onRevision: () => this.reporter?.onFeedRevision(),
        onSynced: () => {
          kinds.services.synced();
          kinds.endpoints.synced();
          this.onFeedSynced();
        },
      },
    });
  }

  private serviceWatcher(): KindFeed<Service> {
    return new KindFeed<Service>({
      kind: 'Service',
      codec: serviceCodec,
      logger: this.log,
      handlers: {
        onUpsert: (svc, meta) => {
          const problem = checkService(svc, meta.key);
          if (problem) return this.reject('Service', meta.key, problem);
          this.rejected.delete(meta.key);
          this.proxier?.onServiceUpsert(this.withoutControlPlane(svc, meta.key));
        },
        onDelete: (key, meta) => {
          this.rejected.delete(meta.key);
          this.guarded.delete(meta.key);
          this.proxier?.onServiceDelete(key.namespace, key.name);
        },
        onSynced: () => undefined, // the feed's own onSynced covers both kinds
        onUndecodable: () => this.countUndecodable(),
      },
    });
  }

  private endpointsWatcher(): KindFeed<Endpoints> {
    return new KindFeed<Endpoints>({
      kind: 'Endpoints',
      codec: endpointsCodec,
      logger: this.log,
      handlers: {
        onUpsert: (ep, meta) => {
          const problem = checkEndpoints(ep, meta.key);
          if (problem) return this.reject('Endpoints', meta.key, problem);
          this.rejected.delete(meta.key);
          this.proxier?.onEndpointsUpsert(ep);
        },
        onDelete: (key, meta) => {
          this.rejected.delete(meta.key);
          this.proxier?.onEndpointsDelete(key.namespace, key.name);
        },
        onSynced: () => undefined,
        onUndecodable: () => this.countUndecodable(),
      },
    });
  }
}

/**
 * `--cleanup`: every available backend (both iptables variants) removes what
 * it ever created. Returns the failures, one line each.
 */
export async function cleanupEverything(params: { options: AgentOptions; logger: Logger; exec?: NetExec }): Promise<string[]> {
  const backendParams: BackendParams = {
    exec: params.exec ?? new ProcessNetExec(),
    options: params.options,
    config: nodeConfigFrom(params.options),
    logger: params.logger,
  };
  const failures: string[] = [];
  for (const backend of await otherBackends(undefined, backendParams)) {
    try {
      await backend.cleanup();
      params.logger.info({ mode: backend.mode }, 'cleaned up');
    } catch (err) {
      failures.push(`${backend.mode}: ${err instanceof Error ? err.message : String(err)}`);
      params.logger.error({ err, mode: backend.mode }, 'cleanup failed');
    }
  }
  return failures;
}
