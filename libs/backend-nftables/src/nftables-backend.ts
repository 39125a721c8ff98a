/**
 * nftables proxy mode (`--proxy-mode nftables`): the table `ip svcnet`
 * rendered by render.ts, one `nft -f` transaction per sync: packets see the
 * old rules or the new ones, never a mix; established flows keep their NAT in
 * conntrack. A full sync replaces the table (`add table` + `delete table` +
 * the new table); a partial sync changes only the chains, map elements and
 * sets that differ from the last applied plan (updateScript). UDP flows to removed endpoints are deleted with
 * `conntrack -D`, as in iptables mode.
 */
import type { NetExec } from '@svcnet/netexec';
import { BackendApplyError, type ApplyResult, type NodeConfig, type ProxyBackend, type RenderInput } from '@svcnet/proxy-core';
import { FIXED_CHAIN_NAMES, NFT_MAPS, NFT_TABLE, renderNftPlan, setBody, type NftPlan, type UdpTarget } from './render.js';

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

/** `nft -j list …` output, the parts we read. */
interface NftJson {
  nftables?: Array<{
    rule?: { table?: string; chain: string };
    chain?: { table?: string; name: string };
    map?: { table?: string; name: string; elem?: unknown[] };
    set?: { table?: string; name: string; elem?: unknown[] };
  }>;
}

/**
 * Rules per chain and elements per map/set in `nft -j list …` output, for our
 * table only (objects without a table name count too); undefined when the
 * output is not JSON. Affinity sets are left out: the kernel fills them.
 */
export function countsOf(json: string): Record<string, number> | undefined {
  let parsed: NftJson;
  try {
    parsed = JSON.parse(json) as NftJson;
  } catch {
    return undefined;
  }
  const ours = (o: { table?: string }) => o.table === undefined || o.table === NFT_TABLE;
  const counts: Record<string, number> = {};
  for (const o of parsed.nftables ?? []) {
    if (o.chain && ours(o.chain)) counts[`chain ${o.chain.name}`] ??= 0;
    if (o.rule && ours(o.rule)) counts[`chain ${o.rule.chain}`] = (counts[`chain ${o.rule.chain}`] ?? 0) + 1;
    if (o.map && ours(o.map)) counts[`map ${o.map.name}`] = o.map.elem?.length ?? 0;
    if (o.set && ours(o.set) && !o.set.name.startsWith('aff-')) counts[`set ${o.set.name}`] = o.set.elem?.length ?? 0;
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
    return renderNftPlan(input.state, input.config, input.full || !input.lastApplied, input.lastApplied, input.changed);
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

  /**
   * Drift, checked without listing every rule (`nft -j list table` takes ~20 s
   * at 10,000 services; this ~3 s): the table's chain names must be exactly the
   * applied ones, the verdict maps must hold as many elements, and the hooks
   * and dispatch chains as many rules. A rule deleted by hand inside one
   * service's chain is not seen here; the periodic full sync rewrites it.
   */
  async detectDrift(lastApplied: NftPlan): Promise<boolean> {
    const expected = lastApplied.counts;
    const chains = await this.listCounts(['list', 'chains', 'ip']);
    if (!chains) return true;
    const names = Object.keys(chains);
    const expectedNames = Object.keys(expected).filter((k) => k.startsWith('chain '));
    if (names.length !== expectedNames.length || expectedNames.some((k) => !(k in chains))) return true;
    const maps = await this.listCounts(['list', 'maps', 'ip']);
    if (!maps) return true;
    for (const [name] of NFT_MAPS) if (maps[`map ${name}`] !== expected[`map ${name}`]) return true;
    if (expected['set nodeport-ips'] !== undefined) {
      const set = await this.listCounts(['list', 'set', 'ip', NFT_TABLE, 'nodeport-ips']);
      if (set?.['set nodeport-ips'] !== expected['set nodeport-ips']) return true;
    }
    for (const chain of FIXED_CHAIN_NAMES) {
      const rules = await this.listCounts(['list', 'chain', 'ip', NFT_TABLE, chain]);
      if (rules?.[`chain ${chain}`] !== expected[`chain ${chain}`]) return true;
    }
    return false;
  }

  /** countsOf(`nft -j <args>`); undefined when nft fails (no table, no chain). */
  private async listCounts(args: string[]): Promise<Record<string, number> | undefined> {
    const r = await this.run('nft', ['-j', ...args], undefined, true);
    return r.exitCode === 0 ? countsOf(r.stdout) : undefined;
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

const sameRules = (a: readonly string[] | undefined, b: readonly string[]): boolean =>
  a === b || (a !== undefined && a.length === b.length && a.every((r, i) => r === b[i]));

/**
 * A partial sync, as kube-proxy's nftables mode does it: touch only what
 * changed, in one transaction (as atomic as a replace). New chains are
 * declared first (so anything may jump to them), then new sets; chains whose
 * rules changed are flushed and refilled; map elements that are gone or point
 * elsewhere are deleted and the new ones added; chains that are gone are
 * flushed, then deleted (nothing references them any more); sets that are gone
 * go last. The table and every unchanged set stay, so ClientIP affinity
 * entries survive. A change of the node-port address set (a flag, so not at
 * run time) falls back to a replace.
 */
export function updateScript(previous: NftPlan, plan: NftPlan): string {
  const t = `ip ${NFT_TABLE}`;
  const nodePortIps = (p: NftPlan) => {
    const set = p.sets.get('nodeport-ips');
    return set ? setBody(set) : '';
  };
  if (nodePortIps(previous) !== nodePortIps(plan)) return replaceScript(plan);
  const lines = [`add table ${t}`];
  for (const name of plan.chains.keys()) if (!previous.chains.has(name)) lines.push(`add chain ${t} ${name}`);
  for (const [name, set] of plan.sets) if (!previous.sets.has(name)) lines.push(`add set ${t} ${name} ${setBody(set)}`);
  for (const [name, rules] of plan.chains) {
    const before = previous.chains.get(name);
    if (sameRules(before, rules)) continue;
    if (before) lines.push(`flush chain ${t} ${name}`);
    for (const rule of rules) lines.push(`add rule ${t} ${name} ${rule}`);
  }
  for (const [name] of NFT_MAPS) {
    const before = previous.maps.get(name) ?? new Map<string, string>();
    const now = plan.maps.get(name) ?? new Map<string, string>();
    const gone = [...before].filter(([k, v]) => now.get(k) !== v).map(([k]) => k);
    const added = [...now].filter(([k, v]) => before.get(k) !== v).map(([k, v]) => `${k} : ${v}`);
    if (gone.length > 0) lines.push(`delete element ${t} ${name} { ${gone.join(', ')} }`);
    if (added.length > 0) lines.push(`add element ${t} ${name} { ${added.join(', ')} }`);
  }
  const goneChains = [...previous.chains.keys()].filter((name) => !plan.chains.has(name));
  for (const name of goneChains) lines.push(`flush chain ${t} ${name}`);
  for (const name of goneChains) lines.push(`delete chain ${t} ${name}`);
  for (const name of previous.sets.keys()) if (!plan.sets.has(name)) lines.push(`delete set ${t} ${name}`);
  return `${lines.join('\n')}\n`;
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
