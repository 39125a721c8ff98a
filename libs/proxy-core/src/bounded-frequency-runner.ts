import type { Clock, TimerHandle } from './clock.js';

/** Parameters of a BoundedFrequencyRunner. */
export interface BoundedFrequencyRunnerParams {
  /** The work; at most one call runs at a time. Errors go to `onError`, never swallowed silently. */
  fn: () => Promise<void>;
  clock: Clock;
  /** Minimum time between the starts of two runs (kube-proxy --min-sync-period). */
  minIntervalMs: number;
  /** Maximum time between runs: a run happens at least this often (kube-proxy --sync-period). */
  maxIntervalMs: number;
  /** Called when `fn` rejects. */
  onError?: (err: unknown) => void;
}

/**
 * kube-proxy's BoundedFrequencyRunner: `run()` requests a run as soon as the
 * minimum interval allows; requests made while waiting or running coalesce
 * into one run; a run happens at least every `maxIntervalMs`; `retryAfter`
 * schedules an earlier retry after a failure.
 */
export class BoundedFrequencyRunner {
  private readonly p: BoundedFrequencyRunnerParams;
  private lastRunAt = Number.NEGATIVE_INFINITY;
  private running: Promise<void> | undefined;
  private pending = false;
  private timer: TimerHandle | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private started = false;
  private runs = 0;

  constructor(params: BoundedFrequencyRunnerParams) {
    if (params.minIntervalMs < 0 || params.maxIntervalMs <= 0 || params.minIntervalMs > params.maxIntervalMs) {
      throw new RangeError(`invalid intervals: min ${params.minIntervalMs} ms, max ${params.maxIntervalMs} ms`);
    }
    this.p = params;
  }

  /** Starts the max-interval loop: the first run happens after `maxIntervalMs` unless requested earlier. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.schedule(this.p.clock.now() + this.p.maxIntervalMs);
    if (this.pending && !this.running) this.schedule(this.earliestAllowed());
  }

  /** Stops scheduling; a run in progress completes. Returns when it has. */
  async stop(): Promise<void> {
    this.started = false;
    this.cancelTimer();
    await this.running;
  }

  /** Requests a run as soon as the minimum interval allows. Coalesces with other requests. */
  run(): void {
    this.pending = true;
    if (!this.started || this.running) return;
    this.schedule(this.earliestAllowed());
  }

  /** Schedules a run `ms` from now (or sooner if one is already due), not earlier than the minimum interval. */
  retryAfter(ms: number): void {
    if (!this.started) return;
    this.schedule(Math.max(this.p.clock.now() + ms, this.lastRunAt + this.p.minIntervalMs));
  }

  /** Number of completed or started runs (for tests and status). */
  get runCount(): number {
    return this.runs;
  }

  /** Resolves when no run is in progress. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private earliestAllowed(): number {
    return Math.max(this.p.clock.now(), this.lastRunAt + this.p.minIntervalMs);
  }

  private schedule(at: number): void {
    if (!this.started) return;
    if (this.timer !== undefined && this.timerAt <= at) return;
    this.cancelTimer();
    this.timerAt = at;
    this.timer = this.p.clock.setTimeout(() => this.tick(), at - this.p.clock.now());
  }

  private cancelTimer(): void {
    if (this.timer !== undefined) this.p.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
  }

  private tick(): void {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    if (!this.started) return;
    if (this.running) {
      this.pending = true;
      return;
    }
    this.pending = false;
    this.lastRunAt = this.p.clock.now();
    this.runs++;
    this.running = this.invoke().finally(() => {
      this.running = undefined;
      if (!this.started) return;
      // A request that arrived while running gets its own run; otherwise wait for the max interval.
      if (this.pending) this.schedule(this.earliestAllowed());
      else this.schedule(this.lastRunAt + this.p.maxIntervalMs);
    });
  }

  private async invoke(): Promise<void> {
    try {
      await this.p.fn();
    } catch (err) {
      this.p.onError?.(err);
    }
  }
}
