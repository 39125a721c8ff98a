import { NetExecError } from '@svcnet/netexec';
import type { ExecRequest, ExecResult, NetExec } from '@svcnet/netexec';
import { IptablesRestoreError, IptablesTables } from './iptables-tables.js';

/** Which tables a binary works on: `iptables-legacy-*`, `iptables-nft-*`; plain `iptables-*` is the nft one (Debian's default). */
export type FakeIptablesVariant = 'legacy' | 'nft';

const TOOL = /^(?:.*\/)?iptables(?:-(legacy|nft))?-(save|restore)$/;

/** Parameters of a FakeIptablesExec. */
export interface FakeIptablesExecParams {
  /** Answers every other program (default: exit 0, no output; `conntrack -D` answers exit 1, "no flow"). */
  fallback?: NetExec;
}

/**
 * A NetExec for unit tests that runs `iptables-{legacy,nft}-restore` and
 * `-save` against in-memory tables (one set per variant), so a backend's
 * restores are applied, refused and read back like the kernel's. Every call
 * is recorded.
 */
export class FakeIptablesExec implements NetExec {
  readonly calls: ExecRequest[] = [];
  readonly tables: Record<FakeIptablesVariant, IptablesTables> = { legacy: new IptablesTables(), nft: new IptablesTables() };
  private readonly fallback: NetExec | undefined;
  private failures: { match: (req: ExecRequest) => boolean; stderr: string }[] = [];

  constructor(params: FakeIptablesExecParams = {}) {
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
    if (failure >= 0) {
      const [f] = this.failures.splice(failure, 1);
      return this.result(req, { stdout: '', stderr: f!.stderr, exitCode: 1 });
    }
    const m = TOOL.exec(req.file);
    if (!m) {
      if (this.fallback) return this.fallback.run(req);
      return this.result(req, { stdout: '', stderr: '', exitCode: req.file === 'conntrack' ? 1 : 0 });
    }
    const tables = this.tables[(m[1] as FakeIptablesVariant | undefined) ?? 'nft'];
    return this.result(req, m[2] === 'save' ? save(tables, req.args) : restore(tables, req));
  }

  private result(req: ExecRequest, r: Omit<ExecResult, 'durationMs'>): ExecResult {
    if (r.exitCode !== 0 && !req.allowFailure) {
      throw new NetExecError({ command: [req.file, ...req.args].join(' '), exitCode: r.exitCode, stderr: r.stderr });
    }
    return { ...r, durationMs: 0 };
  }
}

function save(tables: IptablesTables, args: readonly string[]): Omit<ExecResult, 'durationMs'> {
  let table: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '-t' || a === '--table') table = args[++i];
    else if (a !== '-c' && a !== '--counters') return { stdout: '', stderr: `iptables-save: unknown option ${a}`, exitCode: 2 };
  }
  return { stdout: tables.save(table), stderr: '', exitCode: 0 };
}

function restore(tables: IptablesTables, req: ExecRequest): Omit<ExecResult, 'durationMs'> {
  let noflush = false;
  let onlyTable: string | undefined;
  const args = req.args;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--noflush' || a === '-n') noflush = true;
    else if (a === '-T' || a === '--table') onlyTable = args[++i];
    else if (a === '-W' || a === '--wait-interval') i++;
    else if (a !== '-w' && a !== '--wait' && a !== '-c' && a !== '--counters') return { stdout: '', stderr: `${req.file}: unknown option ${a}`, exitCode: 2 };
  }
  try {
    return { ...tables.restore(String(req.input ?? ''), { noflush, onlyTable }), stderr: '', exitCode: 0 };
  } catch (err) {
    if (!(err instanceof IptablesRestoreError)) throw err;
    return { stdout: '', stderr: `${req.file}: ${err.message}\n`, exitCode: 1 };
  }
}
