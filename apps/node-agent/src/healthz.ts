/** Milliseconds since the epoch; injected so tests drive time. */
export interface HealthClock {
  now(): number;
}

/** What /healthz answers: kube-proxy's shape plus the node name. */
export interface HealthReport {
  healthy: boolean;
  lastUpdated: string;
  currentTime: string;
  nodeName: string;
  /** Oldest change not yet programmed, if any. */
  oldestPendingChange?: string;
}

/**
 * kube-proxy's ProxierHealthServer semantics: a change queued for programming
 * that has not been programmed within `timeoutMs` (2× --sync-period) makes the
 * node unhealthy, and so does a data plane whose periodic syncs stopped
 * succeeding. A successful sync clears the pending mark.
 */
export class HealthTracker {
  private lastUpdatedMs: number | undefined;
  private oldestPendingMs: number | undefined;

  constructor(
    private readonly params: { clock: HealthClock; timeoutMs: number; nodeName: string },
  ) {}

  /** A change was queued (or the agent started): programming is now owed. */
  queued(): void {
    this.oldestPendingMs ??= this.params.clock.now();
  }

  /** A sync succeeded: everything queued so far is programmed. */
  updated(): void {
    this.lastUpdatedMs = this.params.clock.now();
    this.oldestPendingMs = undefined;
  }

  report(): HealthReport {
    const now = this.params.clock.now();
    const { timeoutMs } = this.params;
    const pendingTooLong = this.oldestPendingMs !== undefined && now - this.oldestPendingMs > timeoutMs;
    // Periodic full syncs must keep succeeding even when nothing changes.
    const syncsStopped = this.lastUpdatedMs !== undefined && now - this.lastUpdatedMs > timeoutMs;
    return {
      healthy: !pendingTooLong && !syncsStopped,
      lastUpdated: new Date(this.lastUpdatedMs ?? 0).toISOString(),
      currentTime: new Date(now).toISOString(),
      nodeName: this.params.nodeName,
      ...(this.oldestPendingMs !== undefined ? { oldestPendingChange: new Date(this.oldestPendingMs).toISOString() } : {}),
    };
  }
}
