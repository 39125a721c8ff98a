/**
 * Drift with content, cheaply. Every change to nftables is a transaction and
 * bumps the namespace's generation, so "the generation is what our own
 * transactions made it" proves that nothing was touched: one netlink read,
 * whatever the table's size. When someone else committed (another table, or
 * a hand edit of ours), the table is read over netlink and compared: chain
 * names, set names, each chain's rules against a digest taken right after our
 * own apply (when the generation proves the table was exactly ours), and each
 * element map against the digest the plan carries.
 */
import { sameDigest, type Digest } from './elements.js';
import { BASE_CHAINS, configSets, ELEMENT_MAPS } from './layout.js';
import type { ProbeResult } from './kernel-probe.js';
import { chainsOf, setsOf } from './plan-views.js';
import type { NftPlan } from './render.js';

export type Probe = (mode: 'gen' | 'rules', sets: readonly string[]) => Promise<ProbeResult>;

const ELEMENT_MAP_NAMES = ELEMENT_MAPS.map((m) => m.name);

/** Rule digests per chain, and the fixed interval sets' element digests (node-port addresses, service CIDRs). */
type Baseline = { chains: Map<string, string>; configSets: Map<string, Digest | undefined> };

const configSetNames = (plan: NftPlan): string[] => configSets(plan.config).map(([name]) => name);

export class DriftTracker {
  /** The generation if only our transactions committed since the last trusted point. */
  private expectedGen: number | undefined;
  /** The generation right before our transaction that is being committed. */
  private preGen: number | undefined;
  /** Rule digest per chain, and the node-port address set's digest, as our own transactions left them. */
  private baseline: Baseline | undefined;

  constructor(private readonly probe: Probe) {}

  /** Nothing is known (start, failed apply, cleanup). */
  reset(): void {
    this.expectedGen = undefined;
    this.preGen = undefined;
    this.baseline = undefined;
  }

  /** Before a transaction that writes chains (or replaces the table): the generation it will follow. */
  async beforeCommit(): Promise<void> {
    this.preGen = undefined;
    this.preGen = (await this.probe('gen', [])).genAfter;
  }

  /**
   * After each of our transactions. When it wrote chains (`all` for a table
   * replace), their rules are read back as the trusted copy — only if the
   * generation shows that the read saw exactly our transaction's result
   * (nobody committed in between); otherwise they have no trusted copy and
   * the next check asks for a full sync. Chains it did not write keep their
   * digests, so an edit there made before our transaction is still found.
   */
  async afterCommit(plan: NftPlan, written: ReadonlySet<string> | 'all'): Promise<void> {
    const pre = this.preGen;
    this.preGen = undefined;
    const onlyOurs = this.expectedGen !== undefined && pre === this.expectedGen;
    if (this.expectedGen !== undefined) this.expectedGen++;
    if (written !== 'all' && written.size === 0) return;
    const names = configSetNames(plan);
    const p = await this.probe('rules', names);
    const exact = pre !== undefined && p.genBefore === pre + 1 && p.genAfter === pre + 1;
    const read: Baseline = { chains: p.chains, configSets: new Map(names.map((n) => [n, p.elements.get(n)])) };
    if (written === 'all') {
      this.baseline = exact ? read : undefined;
      this.expectedGen = exact ? pre + 1 : undefined;
      return;
    }
    if (exact && onlyOurs) {
      this.baseline = read;
      return;
    }
    // Someone else committed since the last trusted point (the next check compares everything).
    this.expectedGen = undefined;
    if (this.baseline === undefined) return;
    const chains = new Map(this.baseline.chains);
    for (const c of written) {
      const digest = p.chains.get(c);
      if (exact && digest !== undefined) chains.set(c, digest);
      else chains.delete(c);
    }
    this.baseline = { chains, configSets: this.baseline.configSets };
  }

  /** What differs between the kernel and `plan` (empty: no drift). */
  async check(plan: NftPlan): Promise<string[]> {
    if (this.expectedGen !== undefined && this.baseline !== undefined) {
      const p = await this.probe('gen', []);
      if (p.genAfter === this.expectedGen) return [];
    }
    const sets = [...ELEMENT_MAP_NAMES, ...configSetNames(plan)];
    let p = await this.probe('rules', sets);
    // A commit during the reads: they may mix two states. Look once more.
    if (p.genBefore !== p.genAfter) p = await this.probe('rules', sets);
    if (p.genBefore !== p.genAfter) return ['the ruleset kept changing while it was read'];
    const reasons = compareWithPlan(p, plan, this.baseline);
    if (reasons.length === 0) this.expectedGen = p.genAfter;
    return reasons;
  }
}

/** Everything that differs between a probe of the whole table and the plan (plus the trusted rule digests). */
export function compareWithPlan(p: ProbeResult, plan: NftPlan, baseline: Baseline | undefined): string[] {
  const reasons: string[] = [];
  const chains = [...BASE_CHAINS.map(([name]) => name), ...chainsOf(plan).keys()];
  const missing = chains.filter((c) => !p.chains.has(c));
  const extra = [...p.chains.keys()].filter((c) => !chains.includes(c));
  if (missing.length > 0) reasons.push(`chains missing: ${missing.slice(0, 5).join(' ')}`);
  if (extra.length > 0) reasons.push(`chains not ours: ${extra.slice(0, 5).join(' ')}`);
  if (baseline === undefined) reasons.push('no trusted copy of the rules (another transaction committed right around ours)');
  else {
    const untrusted = chains.filter((c) => p.chains.has(c) && !baseline.chains.has(c));
    const changed = chains.filter((c) => p.chains.has(c) && baseline.chains.has(c) && p.chains.get(c) !== baseline.chains.get(c));
    if (untrusted.length > 0) reasons.push(`no trusted copy of the rules of: ${untrusted.slice(0, 5).join(' ')}`);
    if (changed.length > 0) reasons.push(`rules changed in: ${changed.slice(0, 5).join(' ')}`);
  }
  // nft names anonymous sets `__set<n>`; the layout has none, but they are nft's, not ours to judge.
  const sets = new Set([...ELEMENT_MAP_NAMES, ...setsOf(plan).keys()]);
  const setsHeld = [...p.sets].filter((s) => !s.startsWith('__'));
  const setsMissing = [...sets].filter((s) => !p.sets.has(s));
  const setsExtra = setsHeld.filter((s) => !sets.has(s));
  if (setsMissing.length > 0) reasons.push(`sets missing: ${setsMissing.slice(0, 5).join(' ')}`);
  if (setsExtra.length > 0) reasons.push(`sets not ours: ${setsExtra.slice(0, 5).join(' ')}`);
  for (const name of ELEMENT_MAP_NAMES) {
    const held = p.elements.get(name);
    if (held === undefined) continue; // reported as a missing set
    const want = plan.digests[name];
    if (!sameDigest(held, want)) {
      reasons.push(held.count === want.count ? `elements of ${name} changed` : `${name} holds ${held.count} elements, ${want.count} expected`);
    }
  }
  for (const name of configSetNames(plan)) {
    if (!sameDigest(p.elements.get(name), baseline?.configSets.get(name))) reasons.push(`${name} changed`);
  }
  return reasons;
}
