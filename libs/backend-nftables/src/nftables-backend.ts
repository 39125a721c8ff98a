/**
 * nftables proxy mode (`--proxy-mode nftables`): the table `ip svcnet`, one
 * `nft -f` transaction per sync: packets see the old rules or the new ones,
 * never a mix; established flows keep their NAT in conntrack. A full sync
 * replaces the table; a partial sync changes only the elements, chains and
 * sets that differ from the last applied plan (update-script.ts). UDP flows
 * to removed endpoints are deleted with `conntrack -D`, as in iptables mode.
 * Drift is checked through the nftables generation and netlink digests
 * (drift.ts, kernel-probe.ts).
 */
import type { NetExec } from '@svcnet/netexec';
import { BackendApplyError, type ApplyResult, type NodeConfig, type ProxyBackend, type ProxyLogger, type RenderInput } from '@svcnet/proxy-core';
import { DriftTracker } from './drift.js';
import { NftProbeError, parseProbe, PROBE_SCRIPT, type ProbeResult } from './kernel-probe.js';
import { NFT_TABLE } from './layout.js';
import { skippedOf } from './plan-views.js';
import { renderNftPlan, type NftPlan } from './render.js';
import { replaceScriptBuffer, staleUdpFlows, staleUdpFlowsBetween, updateScript } from './update-script.js';

export interface NftablesBackendParams {
  exec: NetExec;
  /** Run every tool inside this network namespace (tests). */
  netns?: string;
  /** Delete stale UDP conntrack entries of removed endpoints (default true). */
  conntrack?: boolean;
  /** Kill one tool call after this long (default 60 s). */
  timeoutMs?: number;
  config?: NodeConfig;
  /** Where drift findings are explained (the agent passes its logger). */
  logger?: ProxyLogger;
}

/** The chains a partial sync's script writes (their rules' trusted copy is read again). */
function chainsWritten(script: string): Set<string> {
  return new Set([...script.matchAll(new RegExp(`^(?:add chain|flush chain|delete chain|add rule) ip ${NFT_TABLE} (\\S+)`, 'gm'))].map((m) => m[1]!));
}

export class NftablesBackend implements ProxyBackend<NftPlan> {
  readonly mode = 'nftables' as const;
  private readonly exec: NetExec;
  private readonly netns: string | undefined;
  private readonly conntrack: boolean;
  private readonly timeoutMs: number;
  private readonly logger: ProxyLogger | undefined;
  private readonly drift: DriftTracker;
  /** What the table holds after the last successful apply; undefined = replace it whole next time. */
  private applied: NftPlan | undefined;

  constructor(params: NftablesBackendParams) {
    this.exec = params.exec;
    this.netns = params.netns;
    this.conntrack = params.conntrack ?? true;
    this.timeoutMs = params.timeoutMs ?? 60_000;
    this.logger = params.logger;
    this.drift = new DriftTracker((mode, sets) => this.probe(mode, sets));
  }

  render(input: RenderInput<NftPlan>): NftPlan {
    return renderNftPlan(input);
  }

  private run(file: string, args: string[], input?: string | Buffer, allowFailure = false) {
    return this.exec.run({ file, args, input, netns: this.netns, allowFailure, timeoutMs: this.timeoutMs });
  }

  /** One netlink look at the kernel (kernel-probe.ts). */
  async probe(mode: 'gen' | 'rules', sets: readonly string[]): Promise<ProbeResult> {
    const r = await this.run('perl', ['-e', PROBE_SCRIPT, NFT_TABLE, mode, ...sets], undefined, true);
    if (r.exitCode !== 0) throw new NftProbeError(`perl netlink probe: exit ${r.exitCode}: ${r.stderr.trim().slice(0, 300)}`);
    return parseProbe(r.stdout);
  }

  async apply(plan: NftPlan): Promise<ApplyResult> {
    const started = performance.now();
    let calls = 0;
    const previous = this.applied;
    this.applied = undefined; // until this apply succeeds
    try {
      const partial = previous !== undefined && !plan.full;
      const script = partial ? updateScript(previous, plan) : replaceScriptBuffer(plan);
      if (script.length > 0) {
        // A transaction that writes chains is bracketed by two netlink reads (the generation
        // before, the rules after): the rules' trusted copy for the drift check.
        const written = typeof script === 'string' ? chainsWritten(script) : 'all';
        const writesChains = written === 'all' || written.size > 0;
        let tracked = true;
        if (writesChains) {
          calls += 2;
          tracked = await this.tracking(() => this.drift.beforeCommit());
        }
        calls++;
        await this.run('nft', ['-f', '-'], script);
        if (tracked) await this.tracking(() => this.drift.afterCommit(plan, written));
      }
      this.applied = plan;
      if (this.conntrack && previous) {
        const stale = partial ? staleUdpFlowsBetween(previous, plan) : staleUdpFlows(udpOf(previous), udpOf(plan));
        for (const f of stale) {
          calls++;
          const args = ['-D', '-p', 'udp', ...(f.origDst ? ['--orig-dst', f.origDst] : []), ...(f.origPortDst ? ['--orig-port-dst', String(f.origPortDst)] : []), '--dst-nat', f.endpoint];
          // Exit 1 = no such flow.
          const r = await this.run('conntrack', args, undefined, true);
          if (r.exitCode > 1) throw new Error(`conntrack ${args.join(' ')}: exit ${r.exitCode}`);
        }
      }
      return { calls, durationMs: performance.now() - started };
    } catch (e) {
      this.applied = undefined;
      this.drift.reset();
      throw new BackendApplyError('nftables', e instanceof Error ? e.message : String(e), { cause: e });
    }
  }

  /**
   * Drift bookkeeping must not fail a sync: without it the next drift check
   * finds nothing trusted and asks for a full sync (and says why).
   */
  private async tracking(step: () => Promise<void>): Promise<boolean> {
    try {
      await step();
      return true;
    } catch (err) {
      this.drift.reset();
      this.logger?.warn({ err }, 'reading the nftables generation failed; the next drift check rewrites the table');
      return false;
    }
  }

  describe(plan: NftPlan): string {
    const skipped = skippedOf(plan).map((s) => `# skipped ${s.id}: ${s.reason}`);
    return [...skipped, plan.table.trimEnd()].join('\n');
  }

  async readKernelState(): Promise<string> {
    const r = await this.run('nft', ['list', 'table', 'ip', NFT_TABLE], undefined, true);
    return r.exitCode === 0 ? r.stdout : `# no table ip ${NFT_TABLE}\n`;
  }

  /**
   * Drift with content: a changed, deleted or added rule in any of our chains,
   * a flushed chain, an element deleted or pointing elsewhere, a missing or
   * foreign chain or set. When nothing committed since our last apply this is
   * one generation read (drift.ts).
   */
  async detectDrift(lastApplied: NftPlan): Promise<boolean> {
    const reasons = await this.drift.check(lastApplied);
    if (reasons.length > 0) this.logger?.warn({ reasons }, `table ip ${NFT_TABLE} differs from the last applied plan`);
    return reasons.length > 0;
  }

  async cleanup(): Promise<void> {
    const r = await this.run('nft', ['delete', 'table', 'ip', NFT_TABLE], undefined, true);
    // No such table: nothing to clean up.
    if (r.exitCode !== 0 && !/No such file or directory/.test(r.stderr)) throw new Error(`nft delete table ip ${NFT_TABLE}: ${r.stderr.trim()}`);
    this.applied = undefined;
    this.drift.reset();
  }
}

function udpOf(plan: NftPlan) {
  return [...plan.fragments.values()].flatMap((f) => f.udp);
}
