import type { ApplyResult, ProxyBackend, RenderInput } from '@svcnet/proxy-core';

/** Called around every apply the proxier makes. */
export interface ApplyObserver<Plan> {
  onApplied(plan: Plan, result: ApplyResult): void;
  onFailed(error: unknown): void;
}

/**
 * Wraps the mode's backend so the agent sees each apply: health (a successful
 * sync means everything queued is programmed) and the debug endpoint (the plan
 * in the kernel). With `dryRun` nothing reaches the kernel (`--dump-rules`).
 */
export class ObservedBackend<Plan> implements ProxyBackend<Plan> {
  readonly mode: ProxyBackend<Plan>['mode'];
  private applied: Plan | undefined;
  private appliedAtMs: number | undefined;

  constructor(
    private readonly inner: ProxyBackend<Plan>,
    private readonly observer: ApplyObserver<Plan>,
    private readonly options: { dryRun?: boolean; now?: () => number } = {},
  ) {
    this.mode = inner.mode;
  }

  /** The last plan applied successfully (or rendered, in dry-run mode). */
  lastApplied(): Plan | undefined {
    return this.applied;
  }

  lastAppliedAt(): number | undefined {
    return this.appliedAtMs;
  }

  render(input: RenderInput<Plan>): Plan {
    return this.inner.render(input);
  }

  async apply(plan: Plan): Promise<ApplyResult> {
    let result: ApplyResult;
    try {
      result = this.options.dryRun ? { calls: 0, durationMs: 0 } : await this.inner.apply(plan);
    } catch (err) {
      this.observer.onFailed(err);
      throw err;
    }
    this.applied = plan;
    this.appliedAtMs = (this.options.now ?? Date.now)();
    this.observer.onApplied(plan, result);
    return result;
  }

  describe(plan: Plan): string {
    return this.inner.describe(plan);
  }

  readKernelState(): Promise<string> {
    return this.inner.readKernelState();
  }

  detectDrift(lastApplied: Plan): Promise<boolean> {
    return this.options.dryRun ? Promise.resolve(false) : this.inner.detectDrift(lastApplied);
  }

  cleanup(): Promise<void> {
    return this.inner.cleanup();
  }
}
