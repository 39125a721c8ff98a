/**
 * nftables proxy mode (`--proxy-mode nftables`): the table `ip svcnet`
 * rendered by render.ts, replaced atomically with one `nft -f` per sync
 * (`add table` + `delete table` + the new table in one transaction: packets
 * see the old rules or the new ones, never a mix; established flows keep
 * their NAT in conntrack). UDP flows to removed endpoints are deleted with
 * `conntrack -D`, as in iptables mode.
 */
import type { NetExec } from '@svcnet/netexec';
import { BackendApplyError, type ApplyResult, type NodeConfig, type ProxyBackend, type RenderInput } from '@svcnet/proxy-core';
import { NFT_TABLE, renderNftPlan, type NftPlan, type UdpTarget } from './render.js';

export interface NftablesBackendParams {
  exec: NetExec;
  /** Run every tool inside this network namespace (tests). */
  netns?: string;
  /** Delete stale UDP conntrack entries of removed endpoints (default true). */
  conntrack?: boolean;
  /** Kill one tool call after this long (default 60 s). */
  timeoutMs?: number;
  config?: NodeConfig;
}

/** `nft -j list table` output, the parts we read. */
interface NftJson {
  nftables?: Array<{ rule?: { chain: string }; chain?: { name: string }; map?: { name: string; elem?: unknown[] }; set?: { name: string; elem?: unknown[] } }>;
}

/** Rules per chain and elements per map/set of the table as the kernel holds it; undefined when the table is missing. */
export function countsOf(json: string): Record<string, number> | undefined {
  let parsed: NftJson;
  try {
    parsed = JSON.parse(json) as NftJson;
  } catch {
    return undefined;
  }
  const counts: Record<string, number> = {};
  for (const o of parsed.nftables ?? []) {
    if (o.chain) counts[`chain ${o.chain.name}`] ??= 0;
    if (o.rule) counts[`chain ${o.rule.chain}`] = (counts[`chain ${o.rule.chain}`] ?? 0) + 1;
    if (o.map) counts[`map ${o.map.name}`] = o.map.elem?.length ?? 0;
    if (o.set && !o.set.name.startsWith('aff-')) counts[`set ${o.set.name}`] = o.set.elem?.length ?? 0;
  }
  return counts;
}

export class NftablesBackend implements ProxyBackend<NftPlan> {
  readonly mode = 'nftables' as const;
  private readonly exec: NetExec;
  private readonly netns: string | undefined;
  private readonly conntrack: boolean;
  private readonly timeoutMs: number;
  /** What the table holds after the last successful apply; undefined = replace it whole next time. */
  private applied: NftPlan | undefined;

  constructor(params: NftablesBackendParams) {
    this.exec = params.exec;
    this.netns = params.netns;
    this.conntrack = params.conntrack ?? true;
    this.timeoutMs = params.timeoutMs ?? 60_000;
  }

  render(input: RenderInput<NftPlan>): NftPlan {
    return renderNftPlan(input.state, input.config, input.full || !input.lastApplied);
  }

  private run(file: string, args: string[], input?: string, allowFailure = false) {
    return this.exec.run({ file, args, input, netns: this.netns, allowFailure, timeoutMs: this.timeoutMs });
  }

  async apply(plan: NftPlan): Promise<ApplyResult> {
    const started = performance.now();
    let calls = 0;
    try {
      calls++;
      const previous = this.applied;
      this.applied = undefined; // until this apply succeeds
      await this.run('nft', ['-f', '-'], previous && !plan.full ? updateScript(previous, plan) : replaceScript(plan));
      this.applied = plan;
      const stale = previous ? staleUdpFlows(previous.udp, plan.udp) : [];
      if (this.conntrack) {
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
      throw new BackendApplyError('nftables', e instanceof Error ? e.message : String(e), { cause: e });
    }
  }

  describe(plan: NftPlan): string {
    const skipped = plan.skipped.map((s) => `# skipped ${s.id}: ${s.reason}`);
    return [...skipped, plan.table.trimEnd()].join('\n');
  }

  async readKernelState(): Promise<string> {
    const r = await this.run('nft', ['list', 'table', 'ip', NFT_TABLE], undefined, true);
    return r.exitCode === 0 ? r.stdout : `# no table ip ${NFT_TABLE}\n`;
  }

  /** Drift: the table is gone, or a chain, map or set has another number of rules/elements than applied. */
  async detectDrift(lastApplied: NftPlan): Promise<boolean> {
    const r = await this.run('nft', ['-j', 'list', 'table', 'ip', NFT_TABLE], undefined, true);
    if (r.exitCode !== 0) return true;
    const kernel = countsOf(r.stdout);
    if (!kernel) return true;
    const keys = new Set([...Object.keys(kernel), ...Object.keys(lastApplied.counts)]);
    for (const k of keys) if ((kernel[k] ?? -1) !== (lastApplied.counts[k] ?? -1)) return true;
    return false;
  }

  async cleanup(): Promise<void> {
    const r = await this.run('nft', ['list', 'table', 'ip', NFT_TABLE], undefined, true);
    if (r.exitCode === 0) await this.run('nft', ['delete', 'table', 'ip', NFT_TABLE]);
    this.applied = undefined;
  }
}

/** The whole table anew (start, after a failure, full syncs): one transaction, old table out, new in. */
export function replaceScript(plan: NftPlan): string {
  return `add table ip ${NFT_TABLE}\ndelete table ip ${NFT_TABLE}\n${plan.table}`;
}

/**
 * Rewrites every rule and map but keeps the table and its sets, so ClientIP
 * affinity entries (dynamic sets) survive a sync: flush all rules and maps,
 * delete the chains and sets that are gone (and sets whose definition
 * changed), then declare the new table — one transaction, as atomic as a
 * replace.
 */
export function updateScript(previous: NftPlan, plan: NftPlan): string {
  const t = `ip ${NFT_TABLE}`;
  const lines = [`add table ${t}`, `flush table ${t}`];
  for (const m of previous.maps) lines.push(`flush map ${t} ${m}`);
  const keep = new Set(plan.chains);
  for (const c of previous.chains) if (!keep.has(c)) lines.push(`delete chain ${t} ${c}`);
  for (const [name, def] of Object.entries(previous.sets)) {
    if (plan.sets[name] === def && name !== 'nodeport-ips') continue;
    lines.push(`delete set ${t} ${name}`);
  }
  return `${lines.join('\n')}\n${plan.table}`;
}

/** UDP (destination, endpoint) pairs present before and gone now. */
export function staleUdpFlows(before: readonly UdpTarget[], after: readonly UdpTarget[]): Array<{ origDst: string; origPortDst?: number; endpoint: string }> {
  const keyOf = (t: UdpTarget) => `${t.origDst}|${t.origPortDst ?? ''}`;
  const now = new Map(after.map((t) => [keyOf(t), new Set(t.endpoints)]));
  const out: Array<{ origDst: string; origPortDst?: number; endpoint: string }> = [];
  for (const t of before) {
    const still = now.get(keyOf(t));
    for (const ep of t.endpoints) {
      if (still?.has(ep)) continue;
      out.push({ origDst: t.origDst, ...(t.origPortDst ? { origPortDst: t.origPortDst } : {}), endpoint: ep });
    }
  }
  return out;
}
