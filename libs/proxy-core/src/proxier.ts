import type { Endpoints, Service } from '@svcnet/model';
import type { Registry } from 'prom-client';
import type { ProxyBackend } from './backend.js';
import { BoundedFrequencyRunner } from './bounded-frequency-runner.js';
import { EndpointsChangeTracker, ServiceChangeTracker } from './change-tracker.js';
import { categorizeEndpoints } from './endpoint-categories.js';
import type { Change } from './change-tracker.js';
import { SystemClock } from './clock.js';
import type { Clock } from './clock.js';
import { ProxyMetrics } from './proxy-metrics.js';
import type { ProxyIpFamily } from './service-port-map.js';
import type { EndpointInfo, NodeConfig, ProxyState, ServicePortInfo } from './types.js';

/** The subset of a pino logger the proxier uses. */
export interface ProxyLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** How one sync ended, for an owner that reports what the node has programmed. */
export interface SyncOutcome {
  /** What {@link SyncObserver.onSyncStart} returned when this sync took its changes. */
  mark: number;
  /** Programmed (or found nothing to do); false when the apply failed. */
  ok: boolean;
  full: boolean;
  durationMs: number;
  /** When it ended (the proxier's clock, ms). */
  at: number;
  error?: string;
}

/**
 * Told around every sync. The mark taken when a sync drains the change
 * trackers says what that sync covers (the agent uses its feed revision), so
 * a successful sync means "programmed up to the mark".
 */
export interface SyncObserver {
  onSyncStart(): number;
  onSyncEnd(outcome: SyncOutcome): void;
}

/** Objects behind the programmed rules, at the last successful sync. */
export interface ProgrammedCounts {
  services: number;
  servicePorts: number;
  endpoints: number;
}

/** Parameters of a Proxier. */
export interface ProxierParams<Plan> {
  backend: ProxyBackend<Plan>;
  config: NodeConfig;
  clock?: Clock;
  /** kube-proxy --min-sync-period: minimum time between two syncs. */
  minSyncPeriodMs: number;
  /** kube-proxy --sync-period: maximum time between two syncs; drift is checked this often. */
  syncPeriodMs: number;
  /** A full rewrite at least this often even without drift (kube-proxy: 1 h). */
  fullSyncPeriodMs?: number;
  /** Delay before retrying a failed apply (default: min(1 s, syncPeriod), at least minSyncPeriod). */
  retryAfterMs?: number;
  /** A Registry to register kube-proxy metrics on, or ready-made ProxyMetrics. */
  metrics?: Registry | ProxyMetrics;
  logger?: ProxyLogger;
  family?: ProxyIpFamily;
  observer?: SyncObserver;
}

/** What /healthz and operators need to know about programming. */
export interface ProxierStatus {
  /** Initial lists received (onSynced called). */
  synced: boolean;
  /** Time (ms) of the last successful sync or drift check that found nothing to do. */
  lastSyncAt: number | undefined;
  lastFullSyncAt: number | undefined;
  lastAttemptAt: number | undefined;
  syncs: number;
  totalFailures: number;
  consecutiveFailures: number;
  lastError: string | undefined;
  pendingServiceChanges: number;
  pendingEndpointChanges: number;
  /** Since when some wanted state (or the initial sync) has not been programmed. */
  pendingSince: number | undefined;
  /** False when programming is stalled beyond 2× the sync period (kube-proxy healthz → 503). */
  healthy: boolean;
  counts: ProgrammedCounts;
}

const noopLogger: ProxyLogger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

/**
 * svcnet's kube-proxy core: intake of Service/Endpoints events into change
 * trackers, a bounded-frequency sync loop, and one backend that renders and
 * applies the node's desired state. A failed apply is counted, retried and
 * forces the next sync to be full; drift found at the periodic check forces
 * a full sync too.
 */
export class Proxier<Plan> {
  readonly metrics: ProxyMetrics;
  private readonly backend: ProxyBackend<Plan>;
  private readonly config: NodeConfig;
  private readonly clock: Clock;
  private readonly log: ProxyLogger;
  private readonly syncPeriodMs: number;
  private readonly fullSyncPeriodMs: number;
  private readonly retryAfterMs: number;
  private readonly services: ServiceChangeTracker;
  private readonly endpoints: EndpointsChangeTracker;
  private readonly runner: BoundedFrequencyRunner;
  private readonly serviceState = new Map<string, ServicePortInfo>();
  private readonly endpointState = new Map<string, readonly EndpointInfo[]>();
  private readonly changed = new Set<string>();
  private changeTimes: number[] = [];
  private needFull = true;
  private applied: Plan | undefined;
  /** When the kernel was last known to hold exactly `applied` (a drift check or a full sync). */
  private lastDriftCheckAt: number | undefined;
  private isSynced = false;
  private syncing = false;
  private readonly observer: SyncObserver | undefined;
  private counts: ProgrammedCounts = { services: 0, servicePorts: 0, endpoints: 0 };
  private queue: Promise<void> = Promise.resolve();
  private st = {
    lastSyncAt: undefined as number | undefined,
    lastFullSyncAt: undefined as number | undefined,
    lastAttemptAt: undefined as number | undefined,
    syncs: 0,
    totalFailures: 0,
    consecutiveFailures: 0,
    lastError: undefined as string | undefined,
    pendingSince: undefined as number | undefined,
  };

  constructor(params: ProxierParams<Plan>) {
    this.backend = params.backend;
    this.config = params.config;
    this.clock = params.clock ?? new SystemClock();
    this.log = params.logger ?? noopLogger;
    this.syncPeriodMs = params.syncPeriodMs;
    this.fullSyncPeriodMs = params.fullSyncPeriodMs ?? 3_600_000;
    this.retryAfterMs = params.retryAfterMs ?? Math.max(params.minSyncPeriodMs, Math.min(1000, params.syncPeriodMs));
    this.metrics = params.metrics instanceof ProxyMetrics ? params.metrics : new ProxyMetrics(params.metrics);
    this.observer = params.observer;
    const restoreFailures = this.metrics.iptablesRestoreFailures;
    this.backend.observe?.({ iptablesRestoreFailed: () => restoreFailures.inc() });
    this.services = new ServiceChangeTracker({ family: params.family });
    this.endpoints = new EndpointsChangeTracker({ nodeName: params.config.nodeName, family: params.family });
    this.runner = new BoundedFrequencyRunner({
      fn: () => this.syncNow(),
      clock: this.clock,
      minIntervalMs: params.minSyncPeriodMs,
      maxIntervalMs: params.syncPeriodMs,
      onError: (err) => this.log.error({ err }, 'sync loop error'),
    });
  }

  onServiceUpsert(svc: Service): void {
    if (this.services.upsert(svc)) this.noteChange('service');
  }

  onServiceDelete(namespace: string, name: string): void {
    if (this.services.delete(namespace, name, this.clock.now())) this.noteChange('service');
  }

  onEndpointsUpsert(ep: Endpoints): void {
    if (this.endpoints.upsert(ep)) this.noteChange('endpoints');
  }

  onEndpointsDelete(namespace: string, name: string): void {
    if (this.endpoints.delete(namespace, name, this.clock.now())) this.noteChange('endpoints');
  }

  /** The initial lists are in: syncing may begin (kube-proxy waits for informers to sync). */
  onSynced(): void {
    if (this.isSynced) return;
    this.isSynced = true;
    this.runner.run();
  }

  /** Starts the sync loop. */
  start(): void {
    this.st.pendingSince ??= this.clock.now();
    this.runner.start();
  }

  /** Stops the loop; waits for a sync in progress. Programmed rules stay (kube-proxy keeps them too). */
  async stop(): Promise<void> {
    await this.runner.stop();
    await this.queue;
  }

  /** Syncs now (serialized with the loop). Resolves when done; failures are in `status()`. */
  syncNow(): Promise<void> {
    const next = this.queue.then(() => this.sync());
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** The plan last applied successfully, for the debug dump. */
  lastPlan(): Plan | undefined {
    return this.applied;
  }

  /** The desired state as tracked so far (what the next render sees). */
  state(): ProxyState {
    return { services: this.serviceState, endpoints: this.endpointState };
  }

  status(): ProxierStatus {
    const now = this.clock.now();
    const pendingSince = this.st.pendingSince;
    return {
      synced: this.isSynced,
      ...this.st,
      pendingServiceChanges: this.services.pending,
      pendingEndpointChanges: this.endpoints.pending,
      healthy: pendingSince === undefined || now - pendingSince <= 2 * this.syncPeriodMs,
      counts: { ...this.counts },
    };
  }

  /**
   * Nothing waits to be programmed: every change received is in the kernel
   * (synced, no sync running, no queued or unapplied change, the last apply
   * succeeded). A change the trackers found to be a no-op leaves it idle.
   */
  idle(): boolean {
    return (
      this.isSynced &&
      !this.syncing &&
      this.services.pending === 0 &&
      this.endpoints.pending === 0 &&
      this.changed.size === 0 &&
      !this.needFull &&
      this.st.consecutiveFailures === 0
    );
  }

  private noteChange(kind: 'service' | 'endpoints'): void {
    if (kind === 'service') this.metrics.serviceChangesTotal.inc();
    else this.metrics.endpointChangesTotal.inc();
    this.updatePendingGauges();
    this.st.pendingSince ??= this.clock.now();
    this.metrics.lastQueuedTimestamp.set(this.clock.now() / 1000);
    if (this.isSynced) this.runner.run();
  }

  private updatePendingGauges(): void {
    this.metrics.serviceChangesPending.set(this.services.pending);
    this.metrics.endpointChangesPending.set(this.endpoints.pending);
  }

  private absorb<V>(changes: Change<V>[], target: Map<string, V>): void {
    for (const c of changes) {
      for (const id of c.previous.keys()) {
        if (!c.current.has(id)) target.delete(id);
        this.changed.add(id);
      }
      for (const [id, v] of c.current) {
        target.set(id, v);
        this.changed.add(id);
      }
      this.changeTimes.push(...c.changeTimes);
    }
  }

  private async sync(): Promise<void> {
    if (!this.isSynced) return;
    this.syncing = true;
    const mark = this.observer?.onSyncStart() ?? 0;
    try {
      await this.syncTracked(mark);
    } finally {
      this.syncing = false;
    }
  }

  private end(outcome: Omit<SyncOutcome, 'at'>): void {
    if (!this.observer) return;
    try {
      this.observer.onSyncEnd({ ...outcome, at: this.clock.now() });
    } catch (err) {
      this.log.error({ err }, 'sync observer threw');
    }
  }

  private async syncTracked(mark: number): Promise<void> {
    const now = this.clock.now();
    this.st.lastAttemptAt = now;
    this.absorb(this.services.drain(), this.serviceState);
    this.absorb(this.endpoints.drain(), this.endpointState);
    this.updatePendingGauges();

    let full =
      this.needFull ||
      this.applied === undefined ||
      this.st.lastFullSyncAt === undefined ||
      now - this.st.lastFullSyncAt >= this.fullSyncPeriodMs;
    // Look for rules changed behind our back on the periodic run, and at least once per sync
    // period while changes keep coming (a partial sync would not repair them).
    const driftDue = this.lastDriftCheckAt === undefined || now - this.lastDriftCheckAt >= this.syncPeriodMs;
    if (!full && (this.changed.size === 0 || driftDue)) {
      if (await this.driftFound(this.applied as Plan)) full = true;
      else if (this.changed.size === 0) {
        this.st.lastSyncAt = this.clock.now();
        this.st.pendingSince = this.pendingAfterSync();
        this.end({ mark, ok: true, full: false, durationMs: 0 });
        return;
      }
    }

    const started = performance.now();
    try {
      const plan = this.backend.render({
        state: this.state(),
        config: this.config,
        full,
        changed: new Set(this.changed),
        lastApplied: this.applied,
      });
      await this.backend.apply(plan);
      const seconds = (performance.now() - started) / 1000;
      this.onApplied(plan, full, seconds);
      this.end({ mark, ok: true, full, durationMs: seconds * 1000 });
    } catch (err) {
      this.onFailed(err, full);
      this.end({ mark, ok: false, full, durationMs: performance.now() - started, error: this.st.lastError ?? String(err) });
    }
  }

  private async driftFound(applied: Plan): Promise<boolean> {
    this.lastDriftCheckAt = this.clock.now();
    try {
      const drift = await this.backend.detectDrift(applied);
      if (drift) {
        this.metrics.driftDetected.inc();
        this.log.warn({ mode: this.backend.mode }, 'rules changed behind our back; full resync');
      }
      return drift;
    } catch (err) {
      // Not knowing what the kernel holds is treated like drift: rewrite everything.
      this.log.warn({ err, mode: this.backend.mode }, 'drift check failed; full resync');
      return true;
    }
  }

  private onApplied(plan: Plan, full: boolean, seconds: number): void {
    const done = this.clock.now();
    this.applied = plan;
    this.needFull = false;
    this.changed.clear();
    for (const t of this.changeTimes) this.metrics.networkProgrammingDuration.observe(Math.max(0, done - t) / 1000);
    this.changeTimes = [];
    this.metrics.syncDuration.observe(seconds);
    (full ? this.metrics.syncFullDuration : this.metrics.syncPartialDuration).observe(seconds);
    this.metrics.lastSyncTimestamp.set(done / 1000);
    this.updateNoLocalEndpoints();
    this.counts = this.countProgrammed();
    this.st.syncs++;
    this.st.lastSyncAt = done;
    if (full) {
      this.st.lastFullSyncAt = done;
      this.lastDriftCheckAt = done;
    }
    this.st.consecutiveFailures = 0;
    this.st.lastError = undefined;
    this.st.pendingSince = this.pendingAfterSync();
    this.log.debug({ full, seconds, services: this.serviceState.size }, 'synced proxy rules');
  }

  private onFailed(err: unknown, full: boolean): void {
    this.st.totalFailures++;
    this.st.consecutiveFailures++;
    this.st.lastError = err instanceof Error ? err.message : String(err);
    this.st.pendingSince ??= this.clock.now();
    this.metrics.applyFailures.inc();
    // kube-proxy semantics: after a failed apply, nothing about the kernel is trusted.
    this.needFull = true;
    this.applied = undefined;
    this.log.error({ err, full, mode: this.backend.mode }, 'applying proxy rules failed; retrying with a full sync');
    this.runner.retryAfter(this.retryAfterMs);
  }

  private countProgrammed(): ProgrammedCounts {
    const services = new Set<string>();
    for (const svc of this.serviceState.values()) services.add(`${svc.namespace}/${svc.name}`);
    let endpoints = 0;
    for (const eps of this.endpointState.values()) endpoints += eps.length;
    return { services: services.size, servicePorts: this.serviceState.size, endpoints };
  }

  private pendingAfterSync(): number | undefined {
    return this.services.pending + this.endpoints.pending > 0 ? this.clock.now() : undefined;
  }

  private updateNoLocalEndpoints(): void {
    let external = 0;
    let internal = 0;
    for (const svc of this.serviceState.values()) {
      if (!svc.externalPolicyLocal && !svc.internalPolicyLocal) continue;
      // As kube-proxy counts: the service has usable endpoints, but none for this policy on this node.
      const c = categorizeEndpoints(svc, this.endpointState.get(svc.id) ?? []);
      if (!c.hasAny || c.local.length > 0) continue;
      if (svc.externalPolicyLocal) external++;
      if (svc.internalPolicyLocal) internal++;
    }
    this.metrics.noLocalEndpoints.set({ traffic_policy: 'External' }, external);
    this.metrics.noLocalEndpoints.set({ traffic_policy: 'Internal' }, internal);
  }
}
