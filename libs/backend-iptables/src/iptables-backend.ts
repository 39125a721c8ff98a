import { BackendApplyError, ProxyMode, type BackendObserver } from '@svcnet/proxy-core';
import type { ApplyResult, ProxyBackend, RenderInput } from '@svcnet/proxy-core';
import type { NetExec } from '@svcnet/netexec';
import { JUMP_RULES, jumpInsertLine } from './jump-rules.js';
import { describePlan } from './plan.js';
import type { ConntrackDeletion, IptablesPlan, IptablesTable } from './plan.js';
import { ContentCheck } from './content-check.js';
import type { DriftFinding } from './content-check.js';
import { listTableFirstPays, renderIptablesPlan, sectionText } from './render.js';
import type { RestoreExtras } from './render.js';
import { hasJump, parseSave, ruleTarget } from './save-parser.js';
import type { SavedTable } from './save-parser.js';

/** Which iptables binaries to drive. */
export type IptablesVariant = 'legacy' | 'nft';

/** Parameters of an IptablesBackend. */
export interface IptablesBackendParams {
  exec: NetExec;
  /** Force a variant, or detect it like kube-proxy (default 'auto'; nft when undecided). */
  variant?: IptablesVariant | 'auto';
  /** Run every command in this network namespace (tests, benchmarks). */
  netns?: string;
  /** Bit of the masquerade mark (default 14 = 0x4000). */
  masqueradeBit?: number;
  /** Delete stale UDP conntrack entries of removed endpoints (default true). */
  conntrack?: boolean;
}

const TABLES: readonly IptablesTable[] = ['nat', 'filter'];
/** Chain families that only ever hang off our own chains: safe to delete when unknown to the plan. */
const SERVICE_CHAIN = /^KUBE-(SVC|SEP|EXT|SVL|FW|XLB)-/;

/**
 * kube-proxy's iptables mode: the plan is applied with one
 * `iptables-restore -w --noflush` per sync. Before the first apply (and after
 * a failure or drift) it reads `iptables-save` once to delete leftover
 * service chains and add missing jump rules in that same restore.
 */
export class IptablesBackend implements ProxyBackend<IptablesPlan> {
  readonly mode = ProxyMode.iptables;
  private readonly p: IptablesBackendParams;
  private variantPromise: Promise<IptablesVariant> | undefined;
  /** The kernel holds the last applied plan (no need to read it back). */
  private kernelKnown = false;
  private pendingConntrack: ConntrackDeletion[] = [];
  private readonly content = new ContentCheck();
  private drift: DriftFinding | undefined;
  /** iptables-nft refused a restore that listed the table first: never do it again. */
  private listTableBroken = false;
  private observer: BackendObserver | undefined;
  /** route_localnet was set in this namespace (set once, never unset, as kube-proxy does). */
  private routeLocalnetSet = false;

  constructor(params: IptablesBackendParams) {
    this.p = params;
  }

  /** The variant in use (detected once when 'auto'). */
  variant(): Promise<IptablesVariant> {
    const want = this.p.variant ?? 'auto';
    this.variantPromise ??= want === 'auto' ? this.detectVariant() : Promise.resolve(want);
    return this.variantPromise;
  }

  observe(observer: BackendObserver): void {
    this.observer = observer;
  }

  render(input: RenderInput<IptablesPlan>): IptablesPlan {
    return renderIptablesPlan(input, { masqueradeBit: this.p.masqueradeBit });
  }

  describe(plan: IptablesPlan): string {
    return describePlan(plan);
  }

  async apply(plan: IptablesPlan): Promise<ApplyResult> {
    const started = performance.now();
    let calls = 0;
    let listLines: number[] = [];
    try {
      const variant = await this.variant();
      let saved: Map<string, SavedTable> | undefined;
      if (!this.kernelKnown || !plan.basedOnLast) {
        saved = parseSave((await this.run(variant, 'save', [])).stdout);
        calls++;
      }
      const text = TABLES.map((t) => {
        const extras: RestoreExtras = saved ? extrasFor(t, plan, saved.get(t)) : {};
        if (variant === 'nft' && !this.listTableBroken) {
          const tableRules = saved ? () => savedRules(saved.get(t)) : () => planRules(plan, t);
          extras.listTableFirst = listTableFirstPays(plan.sections[t], { deleteChains: extras.deleteChains, tableRules });
        }
        return sectionText(t, plan.sections[t], extras);
      }).join('');
      listLines = listLineNumbers(text);
      if (text !== '') {
        await this.run(variant, 'restore', ['-w', '--noflush'], text).catch((err: unknown) => {
          this.observer?.iptablesRestoreFailed();
          throw err;
        });
        calls++;
      }
      this.kernelKnown = true;
      if (plan.routeLocalnet && !this.routeLocalnetSet) {
        // Only in the namespace the agent programs: localhost node ports are DNATed from 127.0.0.1.
        await this.p.exec.run({ file: 'sysctl', args: ['-w', 'net.ipv4.conf.all.route_localnet=1'], netns: this.p.netns });
        calls++;
        this.routeLocalnetSet = true;
      }
    } catch (err) {
      this.kernelKnown = false;
      // Should an iptables-nft ever refuse the -S line itself, later syncs go without it.
      const failedLine = /\bline (\d+)\b/.exec(messageOf(err))?.[1];
      if (failedLine !== undefined && listLines.includes(Number(failedLine))) this.listTableBroken = true;
      throw err instanceof BackendApplyError ? err : new BackendApplyError(this.mode, messageOf(err), { cause: err });
    }
    calls += await this.clearConntrack(plan.conntrack);
    return { calls, durationMs: performance.now() - started };
  }

  async readKernelState(): Promise<string> {
    const variant = await this.variant();
    const out: string[] = [];
    for (const t of TABLES) out.push((await this.run(variant, 'save', ['-t', t])).stdout);
    return out.join('');
  }

  /**
   * Reads iptables-save and compares every chain of the plan by content (see
   * ContentCheck): missing chains, rule counts, rules rewritten in place, and
   * the jump rules in the built-in chains.
   */
  async detectDrift(lastApplied: IptablesPlan): Promise<boolean> {
    const variant = await this.variant();
    const saved = parseSave((await this.run(variant, 'save', [])).stdout);
    this.drift = this.content.check(saved, lastApplied);
    if (this.drift) this.kernelKnown = false;
    return this.drift !== undefined;
  }

  /** What the last drift check found (undefined: nothing). */
  lastDrift(): DriftFinding | undefined {
    return this.drift;
  }

  /**
   * Removes every KUBE-* chain and every rule elsewhere that jumps to one
   * (our jump rules), in both variants when not forced to one. Nothing else
   * is touched.
   */
  async cleanup(): Promise<void> {
    const variants: IptablesVariant[] = this.p.variant === 'legacy' || this.p.variant === 'nft' ? [this.p.variant] : ['nft', 'legacy'];
    for (const v of variants) {
      const save = await this.run(v, 'save', [], undefined, true).catch(() => undefined);
      if (!save || save.exitCode !== 0) continue;
      const text = cleanupText(parseSave(save.stdout), { listTableFirst: v === 'nft' && !this.listTableBroken });
      if (text !== '') await this.run(v, 'restore', ['-w', '--noflush'], text);
    }
    this.kernelKnown = false;
    this.content.reset();
  }

  private async clearConntrack(deletions: readonly ConntrackDeletion[]): Promise<number> {
    if (this.p.conntrack === false) return 0;
    const todo = [...this.pendingConntrack, ...deletions];
    this.pendingConntrack = [];
    const failed: { d: ConntrackDeletion; why: string }[] = [];
    for (const d of todo) {
      const args = ['-D', '-p', d.protocol];
      if (d.origDst) args.push('--orig-dst', d.origDst);
      if (d.origPortDst) args.push('--orig-port-dst', String(d.origPortDst));
      if (d.dstNat) args.push('--dst-nat', d.dstNat);
      try {
        // Exit 1 = no matching flow: nothing to delete.
        const r = await this.p.exec.run({ file: 'conntrack', args, netns: this.p.netns, allowFailure: true });
        if (r.exitCode > 1) failed.push({ d, why: r.stderr.trim() });
      } catch (err) {
        failed.push({ d, why: messageOf(err) });
      }
    }
    if (failed.length > 0) {
      // Kept and retried with the next apply; the failure is reported, not swallowed.
      this.pendingConntrack = failed.map((f) => f.d);
      throw new BackendApplyError(this.mode, `conntrack cleanup failed for ${failed.length} flow(s): ${failed[0]!.why}`);
    }
    return todo.length;
  }

  private async detectVariant(): Promise<IptablesVariant> {
    // Like kube-proxy's iptables-wrapper: the variant that already holds more KUBE rules wins; nft by default.
    const count = async (v: IptablesVariant) => {
      const r = await this.run(v, 'save', [], undefined, true).catch(() => undefined);
      return r && r.exitCode === 0 ? r.stdout.split('\n').filter((l) => l.includes('KUBE-')).length : -1;
    };
    const [legacy, nft] = [await count('legacy'), await count('nft')];
    return legacy > nft ? 'legacy' : 'nft';
  }

  private run(variant: IptablesVariant, tool: 'save' | 'restore', args: string[], input?: string, allowFailure = false) {
    return this.p.exec.run({
      file: `iptables-${variant}-${tool}`,
      args,
      input,
      netns: this.p.netns,
      allowFailure,
      // A full restore of 10,000 services takes ~7 s with iptables-nft.
      timeoutMs: 300_000,
    });
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Leftover service chains the plan does not know, and jump rules that are missing. */
function extrasFor(table: IptablesTable, plan: IptablesPlan, saved: SavedTable | undefined): RestoreExtras {
  const want = table === 'nat' ? plan.nat : plan.filter;
  const deleteChains = [...(saved?.chains ?? [])].filter((c) => SERVICE_CHAIN.test(c) && !want.has(c)).sort();
  const jumps = JUMP_RULES.filter((j) => j.table === table && !hasJump(saved, j)).map(jumpInsertLine);
  return { deleteChains, jumps };
}

/** 1-based numbers of the `-S` lines of a restore input (iptables-restore names failing lines so). */
function listLineNumbers(text: string): number[] {
  const out: number[] = [];
  if (!text.includes('\n-S\n')) return out;
  let line = 1;
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) !== 10) continue;
    line++;
    if (text.startsWith('-S\n', i + 1)) out.push(line);
  }
  return out;
}

function savedRules(t: SavedTable | undefined): number {
  let n = 0;
  for (const lines of t?.rules.values() ?? []) n += lines.length;
  return n;
}

/** Rules the kernel holds in one table after the last plan (the plan's own count; others' rules are few). */
function planRules(plan: IptablesPlan, table: IptablesTable): number {
  let n = 0;
  for (const lines of plan.shared[table].values()) n += lines.length;
  if (table === 'nat') for (const f of plan.fragments.values()) for (const lines of f.chains.values()) n += lines.length;
  return n;
}

/** From this many chains on, an iptables-nft cleanup lists the table first (see RestoreExtras.listTableFirst). */
const CLEANUP_LIST_MIN_CHAINS = 2000;

/** Restore input that deletes our jump rules and every KUBE-* chain. */
export function cleanupText(saved: Map<string, SavedTable>, options: { listTableFirst?: boolean } = {}): string {
  let out = '';
  for (const [table, t] of saved) {
    const ours = [...t.chains].filter((c) => c.startsWith('KUBE-')).sort();
    if (ours.length === 0) continue;
    // Many chains: list first, as in apply (the built-in chains we delete from exist, so none is faked).
    const list = options.listTableFirst && ours.length >= CLEANUP_LIST_MIN_CHAINS ? ['-S'] : [];
    const deletes: string[] = [];
    for (const [chain, lines] of t.rules) {
      if (chain.startsWith('KUBE-')) continue;
      for (const l of lines) if (ruleTarget(l)?.startsWith('KUBE-')) deletes.push(`-D${l.slice(2)}`);
    }
    out += [`*${table}`, ...list, ...ours.map((c) => `:${c} - [0:0]`), ...deletes, ...ours.map((c) => `-X ${c}`), 'COMMIT', ''].join('\n');
  }
  return out;
}
