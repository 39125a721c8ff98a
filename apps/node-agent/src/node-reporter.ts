import type { Logger } from 'pino';
import type { NodeStatus, NodeSyncError } from '@svcnet/model';
import type { Clock, ProgrammedCounts, SyncObserver, SyncOutcome } from '@svcnet/proxy-core';
import { NodeStatusPublisher, type StoreConnection } from '@svcnet/store';
import type { HealthReport } from './healthz.js';

/** Failed syncs kept in the node record (newest first). */
export const KEPT_SYNC_ERRORS = 5;

/** What the reporter publishes through: the store's publisher, or a fake in tests. */
export interface StatusSink {
  start(): void;
  stop(): Promise<void>;
  noteProgrammed(revision: number): void;
  reportNow(): void;
}

/** Parameters of a {@link NodeReporter}. */
export interface NodeReporterParams {
  nodeName: string;
  nodeIPs: readonly string[];
  proxyMode: string;
  version: string;
  /** The heartbeat: the record is rewritten this often. */
  intervalMs: number;
  clock: Clock;
  /** The contiguous feed revision (everything up to it received). */
  feedRevision: () => number;
  /** True when every change received is programmed (Proxier.idle). */
  programmingIdle: () => boolean;
  counts: () => ProgrammedCounts;
  health: () => HealthReport;
  logger: Logger;
  /** Where records go; default: a NodeStatusPublisher on the connection given to start(). */
  sink?: (connection: StoreConnection, status: () => NodeStatus) => StatusSink;
}

/**
 * The agent's report of itself in the nodes bucket: which revision of the
 * state is programmed, how the last syncs went, rule counts and health. It
 * observes the proxier's syncs: a successful sync programs the feed revision
 * taken when its changes were drained, and whenever nothing waits to be
 * programmed the whole feed revision is (changes that needed no rule count).
 * Besides the heartbeat, the record is rewritten at once when the sync
 * result changes, so an operator sees a failure without waiting a beat.
 */
export class NodeReporter implements SyncObserver {
  private readonly p: NodeReporterParams;
  private readonly startedAt: Date;
  private programmed = 0;
  private lastSync: SyncOutcome | undefined;
  private errors: NodeSyncError[] = [];
  private sink: StatusSink | undefined;

  constructor(params: NodeReporterParams) {
    this.p = params;
    this.startedAt = new Date(params.clock.now());
  }

  /** Everything of the state up to this revision is programmed on this node. */
  get programmedRevision(): number {
    return this.programmed;
  }

  start(connection: StoreConnection): void {
    const make =
      this.p.sink ??
      ((c: StoreConnection, status: () => NodeStatus) =>
        new NodeStatusPublisher({ connection: c, nodeName: this.p.nodeName, status, intervalMs: this.p.intervalMs, logger: this.p.logger }));
    this.sink = make(connection, () => this.status());
    this.sink.start();
    this.sink.noteProgrammed(this.programmed);
  }

  async stop(): Promise<void> {
    await this.sink?.stop();
  }

  onSyncStart(): number {
    return this.p.feedRevision();
  }

  onSyncEnd(outcome: SyncOutcome): void {
    const flipped = this.lastSync === undefined || this.lastSync.ok !== outcome.ok;
    this.lastSync = outcome;
    if (outcome.ok) {
      this.advance(outcome.mark);
      this.onFeedRevision();
    } else {
      this.errors = [{ at: new Date(outcome.at), message: outcome.error ?? 'sync failed' }, ...this.errors].slice(0, KEPT_SYNC_ERRORS);
    }
    if (flipped || !outcome.ok) this.sink?.reportNow();
  }

  /** The feed moved on: if nothing waits to be programmed, all of it is. */
  onFeedRevision(): void {
    if (this.p.programmingIdle()) this.advance(this.p.feedRevision());
  }

  /** Something an operator should see at once (feed connection lost or back). */
  reportNow(): void {
    this.sink?.reportNow();
  }

  private advance(revision: number): void {
    if (revision <= this.programmed) return;
    this.programmed = revision;
    this.sink?.noteProgrammed(revision);
  }

  /** The record as of now. */
  status(): NodeStatus {
    const health = this.p.health();
    const s = this.lastSync;
    return {
      nodeName: this.p.nodeName,
      nodeIPs: [...this.p.nodeIPs],
      proxyMode: this.p.proxyMode,
      version: this.p.version,
      programmedRevision: this.programmed,
      feedRevision: this.p.feedRevision(),
      lastSync: s ? { at: new Date(s.at), ok: s.ok, full: s.full, durationMs: s.durationMs } : undefined,
      lastSyncErrors: [...this.errors],
      counts: this.p.counts(),
      healthy: health.healthy,
      healthReason: health.reason ?? '',
      feedConnected: health.feedConnected,
      heartbeatIntervalMs: this.p.intervalMs,
      startedAt: this.startedAt,
      registeredAt: this.startedAt,
      reportedAt: new Date(this.p.clock.now()),
    };
  }
}
