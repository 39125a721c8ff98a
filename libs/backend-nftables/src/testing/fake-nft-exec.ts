import { KernelFakeExec } from '@svcnet/netexec/testing';
import type { FakeOutcome, KernelFakeExecParams } from '@svcnet/netexec/testing';
import type { ExecRequest } from '@svcnet/netexec';
import { NftSyntaxError } from './nft-script.js';
import { NftRuleset, NftTransactionError } from './nft-ruleset.js';

/** Parameters of a FakeNftExec. */
export type FakeNftExecParams = KernelFakeExecParams;

/**
 * A NetExec for unit tests that runs `nft -f -`, `nft list table|ruleset`
 * and `nft delete table` against an in-memory ruleset (NftRuleset), so a
 * backend's transactions are applied, refused and read back like the
 * kernel's. Every call is recorded; failures can be injected (failNext).
 * `perl` (the netlink probe) is unavailable, as the backend tolerates.
 */
export class FakeNftExec extends KernelFakeExec {
  readonly ruleset = new NftRuleset();

  protected handle(req: ExecRequest): FakeOutcome | undefined {
    if (req.file !== 'nft') return undefined;
    try {
      return { stdout: this.nft(req), stderr: '', exitCode: 0 };
    } catch (err) {
      if (!(err instanceof NftTransactionError || err instanceof NftSyntaxError)) throw err;
      return { stdout: '', stderr: `${err.message}\n`, exitCode: 1 };
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
