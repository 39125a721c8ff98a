import { KernelFakeExec } from '@svcnet/netexec/testing';
import type { FakeOutcome, KernelFakeExecParams } from '@svcnet/netexec/testing';
import type { ExecRequest } from '@svcnet/netexec';
import { IptablesRestoreError, IptablesTables } from './iptables-tables.js';

/** Which tables a binary works on: `iptables-legacy-*`, `iptables-nft-*`; plain `iptables-*` is the nft one (Debian's default). */
export type FakeIptablesVariant = 'legacy' | 'nft';

const TOOL = /^(?:.*\/)?iptables(?:-(legacy|nft))?-(save|restore)$/;

/** Parameters of a FakeIptablesExec. */
export type FakeIptablesExecParams = KernelFakeExecParams;

/**
 * A NetExec for unit tests that runs `iptables-{legacy,nft}-restore` and
 * `-save` against in-memory tables (one set per variant), so a backend's
 * restores are applied, refused and read back like the kernel's. Every call
 * is recorded; failures can be injected (failNext).
 */
export class FakeIptablesExec extends KernelFakeExec {
  readonly tables: Record<FakeIptablesVariant, IptablesTables> = { legacy: new IptablesTables(), nft: new IptablesTables() };

  protected handle(req: ExecRequest): FakeOutcome | undefined {
    const m = TOOL.exec(req.file);
    if (!m) return undefined;
    const tables = this.tables[(m[1] as FakeIptablesVariant | undefined) ?? 'nft'];
    return m[2] === 'save' ? save(tables, req.args) : restore(tables, req);
  }
}

function save(tables: IptablesTables, args: readonly string[]): FakeOutcome {
  let table: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '-t' || a === '--table') table = args[++i];
    else if (a !== '-c' && a !== '--counters') return { stdout: '', stderr: `iptables-save: unknown option ${a}`, exitCode: 2 };
  }
  return { stdout: tables.save(table), stderr: '', exitCode: 0 };
}

function restore(tables: IptablesTables, req: ExecRequest): FakeOutcome {
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
