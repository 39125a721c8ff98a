/** The part of the proxier's status that health is judged on (times in ms since the epoch). */
export interface ProgrammingStatus {
  /** Since when some wanted state (or the initial sync) has not been programmed. */
  pendingSince: number | undefined;
  /** The last successful sync (including a periodic check that found nothing to do). */
  lastSyncAt: number | undefined;
}

/** What /healthz answers: kube-proxy's shape plus the node name. */
export interface HealthReport {
  healthy: boolean;
  lastUpdated: string;
  currentTime: string;
  nodeName: string;
  /** Oldest change not yet programmed, if any. */
  oldestPendingChange?: string;
  /** False while the change feed (NATS) is disconnected. */
  feedConnected: boolean;
  /** Why the node is unhealthy, when it is. */
  reason?: string;
}

/** Parameters of {@link evaluateHealth}. */
export interface HealthInput {
  status: ProgrammingStatus;
  now: number;
  /** kube-proxy uses 2× --sync-period. */
  timeoutMs: number;
  nodeName: string;
  /** The change feed: down since (ms since the epoch) and how long that may last (--sync-period). */
  feed?: { downSince: number | undefined; timeoutMs: number };
}

/**
 * kube-proxy's ProxierHealthServer semantics: a change (or the initial sync)
 * waiting to be programmed for longer than the timeout makes the node
 * unhealthy. We also fail when periodic syncs stopped succeeding altogether
 * (a hung apply leaves nothing "pending" yet programs nothing).
 */
export function evaluateHealth(input: HealthInput): HealthReport {
  const { status, now, timeoutMs } = input;
  const pendingTooLong = status.pendingSince !== undefined && now - status.pendingSince > timeoutMs;
  const syncsStopped = status.lastSyncAt !== undefined && now - status.lastSyncAt > timeoutMs;
  // Rules programmed from a feed that has been gone this long may be stale: say so.
  const feedDown = input.feed?.downSince !== undefined && now - input.feed.downSince > input.feed.timeoutMs;
  const reason = pendingTooLong
    ? 'changes wait to be programmed for longer than 2x --sync-period'
    : syncsStopped
      ? 'no successful sync for longer than 2x --sync-period'
      : feedDown
        ? 'the change feed (NATS) has been disconnected for longer than --sync-period'
        : undefined;
  return {
    healthy: reason === undefined,
    ...(reason ? { reason } : {}),
    feedConnected: input.feed?.downSince === undefined,
    lastUpdated: new Date(status.lastSyncAt ?? 0).toISOString(),
    currentTime: new Date(now).toISOString(),
    nodeName: input.nodeName,
    ...(status.pendingSince !== undefined ? { oldestPendingChange: new Date(status.pendingSince).toISOString() } : {}),
  };
}
