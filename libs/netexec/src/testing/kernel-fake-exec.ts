import { NetExecError } from '../net-exec.js';
import type { ExecRequest, ExecResult, NetExec } from '../net-exec.js';

/** What a fake program printed and how it exited. */
export type FakeOutcome = Omit<ExecResult, 'durationMs'>;

/** Parameters of a KernelFakeExec. */
export interface KernelFakeExecParams {
  /** Answers the programs the fake does not model (default: see `otherProgram`). */
  fallback?: NetExec;
}

/**
 * The shared part of the stateful kernel fakes (iptables, nft): every call
 * recorded, failures injected on demand, programs the fake does not model
 * answered by a fallback, and a non-zero exit turned into NetExecError
 * unless the caller allows failure — as ProcessNetExec does.
 */
export abstract class KernelFakeExec implements NetExec {
  readonly calls: ExecRequest[] = [];
  private readonly fallback: NetExec | undefined;
  private failures: { match: (req: ExecRequest) => boolean; stderr: string }[] = [];

  constructor(params: KernelFakeExecParams = {}) {
    this.fallback = params.fallback;
  }

  /** The next call `match` accepts fails with exit 1 and `stderr`, touching nothing (a kernel or tool failure). */
  failNext(match: (req: ExecRequest) => boolean, stderr = 'injected failure'): this {
    this.failures.push({ match, stderr });
    return this;
  }

  /** Drops failures injected with failNext that no call has met yet. */
  clearFailures(): void {
    this.failures = [];
  }

  async run(req: ExecRequest): Promise<ExecResult> {
    this.calls.push({ ...req, args: [...req.args] });
    const failure = this.failures.findIndex((f) => f.match(req));
    let out: FakeOutcome;
    if (failure >= 0) out = { stdout: '', stderr: this.failures.splice(failure, 1)[0]!.stderr, exitCode: 1 };
    else {
      const modelled = this.handle(req);
      if (modelled === undefined && this.fallback) return this.fallback.run(req);
      out = modelled ?? otherProgram(req);
    }
    if (out.exitCode !== 0 && !req.allowFailure) throw new NetExecError({ command: [req.file, ...req.args].join(' '), ...out });
    return { ...out, durationMs: 0 };
  }

  /** Runs a program the fake models; undefined for any other program. */
  protected abstract handle(req: ExecRequest): FakeOutcome | undefined;
}

/** Programs no fake models: `conntrack -D` finds no flow (exit 1), `perl` (netlink probes) is unavailable, the rest succeed silently. */
function otherProgram(req: ExecRequest): FakeOutcome {
  if (req.file === 'conntrack') return { stdout: '', stderr: '', exitCode: 1 };
  if (req.file === 'perl') return { stdout: '', stderr: 'no netlink in a fake kernel', exitCode: 1 };
  return { stdout: '', stderr: '', exitCode: 0 };
}
