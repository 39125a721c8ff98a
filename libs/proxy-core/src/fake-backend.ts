import { BackendApplyError } from './backend.js';
import type { ApplyResult, ProxyBackend, RenderInput } from './backend.js';
import type { EndpointInfo, ServicePortInfo } from './types.js';

/** The plan of FakeProxyBackend: a snapshot of what render saw. */
export interface FakePlan {
  full: boolean;
  changed: string[];
  services: ServicePortInfo[];
  endpoints: Record<string, EndpointInfo[]>;
}

/**
 * A backend for tests of code built on proxy-core (the proxier, the agent):
 * records renders and applies, fails on demand, reports drift on demand.
 */
export class FakeProxyBackend implements ProxyBackend<FakePlan> {
  readonly mode = 'iptables' as const;
  readonly renders: RenderInput<FakePlan>[] = [];
  readonly applied: FakePlan[] = [];
  /** Number of upcoming applies that fail. */
  failNext = 0;
  /** Next detectDrift answer. */
  drift = false;
  driftChecks = 0;
  cleanups = 0;

  render(input: RenderInput<FakePlan>): FakePlan {
    this.renders.push(input);
    return {
      full: input.full,
      changed: [...input.changed].sort(),
      services: [...input.state.services.values()].sort((a, b) => (a.id < b.id ? -1 : 1)),
      endpoints: Object.fromEntries([...input.state.endpoints].map(([k, v]) => [k, [...v]])),
    };
  }

  async apply(plan: FakePlan): Promise<ApplyResult> {
    if (this.failNext > 0) {
      this.failNext--;
      throw new BackendApplyError(this.mode, 'scripted failure');
    }
    this.applied.push(plan);
    return { calls: 1, durationMs: 0 };
  }

  describe(plan: FakePlan): string {
    return JSON.stringify(plan, null, 2);
  }

  async readKernelState(): Promise<string> {
    const last = this.applied.at(-1);
    return last ? this.describe(last) : '';
  }

  async detectDrift(_lastApplied: FakePlan): Promise<boolean> {
    this.driftChecks++;
    const d = this.drift;
    this.drift = false;
    return d;
  }

  async cleanup(): Promise<void> {
    this.cleanups++;
  }
}
