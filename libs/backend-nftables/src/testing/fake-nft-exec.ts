import { NetExecError } from '@svcnet/netexec';
import type { ExecRequest, ExecResult, NetExec } from '@svcnet/netexec';
import { NftSyntaxError } from './nft-script.js';
import { NftRuleset, NftTransactionError } from './nft-ruleset.js';

/** Parameters of a FakeNftExec. */
export interface FakeNftExecParams {
  /** Answers every other program (default: exit 0, no output; `conntrack` exit 1 "no flow"; `perl` exit 1, so the netlink probe is unavailable). */
  fallback?: NetExec;
}

/**
 * A NetExec for unit tests that runs `nft -f -`, `nft list table|ruleset`,
 * `nft delete table` and `nft flush ruleset` against an in-memory ruleset
 * (NftRuleset), so a backend's transactions are applied, refused and read
 * back like the kernel's. Every call is recorded.
 */
export class FakeNftExec implements NetExec {
  readonly calls: ExecRequest[] = [];
  readonly ruleset = new NftRuleset();
  private readonly fallback: NetExec | undefined;
  private failures: { match: (req: ExecRequest) => boolean; stderr: string }[] = [];

  constructor(params: FakeNftExecParams = {}) {
    this.fallback = params.fallback;
  }

  /** The next call `match` accepts fails with exit 1 and `stderr`, touching nothing. */
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
      return result(req, '', f!.stderr, 1);
    }
    if (req.file !== 'nft') {
      if (this.fallback) return this.fallback.run(req);
      return result(req, '', req.file === 'perl' ? 'no netlink in the fake' : '', req.file === 'conntrack' || req.file === 'perl' ? 1 : 0);
    }
    try {
      return result(req, this.nft(req), '', 0);
    } catch (err) {
      if (!(err instanceof NftTransactionError || err instanceof NftSyntaxError)) throw err;
      return result(req, '', `${err.message}\n`, 1);
    }
  }

  private nft(req: ExecRequest): string {
    const a = req.args.join(' ');
    if (a === '-f -' || a === '-f /dev/stdin') {
      this.ruleset.apply(String(req.input ?? ''));
      return '';
    }
    let m = /^list table (\S+) (\S+)$/.exec(a);
    if (m) {
      const text = this.ruleset.list(m[1]!, m[2]!);
      if (text === undefined) throw new NftTransactionError(1, `No such file or directory (table ${m[1]} ${m[2]})`);
      return text;
    }
    if (a === 'list ruleset') return this.ruleset.listRuleset();
    m = /^delete table (\S+) (\S+)$/.exec(a);
    if (m) {
      this.ruleset.deleteTable(m[1]!, m[2]!);
      return '';
    }
    throw new NftSyntaxError(1, `the fake does not run "nft ${a}"`);
  }
}

function result(req: ExecRequest, stdout: string, stderr: string, exitCode: number): ExecResult {
  if (exitCode !== 0 && !req.allowFailure) throw new NetExecError({ command: [req.file, ...req.args].join(' '), exitCode, stderr });
  return { stdout, stderr, exitCode, durationMs: 0 };
}
