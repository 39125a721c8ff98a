import type { NodeConfig, ProxyMode, ProxyState } from './types.js';

/** Everything a backend needs to compute what the kernel should hold. */
export interface RenderInput<Plan> {
  state: ProxyState;
  config: NodeConfig;
  /** Full sync: every object is rewritten. Otherwise only `changed` need to be. */
  full: boolean;
  /** Service port ids whose service or endpoints changed since the last successful apply. */
  changed: ReadonlySet<string>;
  /** The plan last applied successfully (undefined after start or a failed apply). */
  lastApplied: Plan | undefined;
}

/** Outcome of one apply. A failure throws (BackendApplyError); this is the success path. */
export interface ApplyResult {
  /** Kernel-facing calls made (e.g. 1 for one iptables-restore). */
  calls: number;
  durationMs: number;
}

/** An apply failed; the runner counts it and forces the next sync to be full. */
export class BackendApplyError extends Error {
  override readonly name = 'BackendApplyError';
  readonly mode: ProxyMode;
  constructor(mode: ProxyMode, message: string, options?: { cause?: unknown }) {
    super(`${mode} apply failed: ${message}`, options);
    this.mode = mode;
  }
}

/**
 * Events a backend reports as they happen, for metrics that depend on which
 * kernel tool it drives (kube-proxy counts iptables-restore failures in the
 * iptables and IPVS modes alike). The proxier supplies it; the core stays
 * mode-agnostic.
 */
export interface BackendObserver {
  /** An `iptables-restore` run was refused or failed. */
  iptablesRestoreFailed(): void;
}

/**
 * The seam every proxy mode implements. `render` is pure (unit-tested with
 * golden output and a packet tracer); `apply` makes one atomic change through
 * NetExec (or opens/closes sockets, for userspace).
 */
export interface ProxyBackend<Plan = unknown> {
  readonly mode: ProxyMode;
  /** Pure: desired state → a printable, assertable plan. */
  render(input: RenderInput<Plan>): Plan;
  /** Programs the plan. Throws BackendApplyError on failure. */
  apply(plan: Plan): Promise<ApplyResult>;
  /** The plan as text (`svcnet-agent --dump-rules`, the debug endpoint). */
  describe(plan: Plan): string;
  /** What the kernel holds now, as text, for debugging and drift checks. */
  readKernelState(): Promise<string>;
  /** True when rules this backend owns were changed behind its back since its last apply. */
  detectDrift(lastApplied: Plan): Promise<boolean>;
  /** Removes everything this backend ever created (chains, tables, sets, links, sockets). */
  cleanup(): Promise<void>;
  /** Receives the proxier's observer; backends without such events leave it out. */
  observe?(observer: BackendObserver): void;
}
