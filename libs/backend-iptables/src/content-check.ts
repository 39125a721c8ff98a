import { JUMP_RULES } from './jump-rules.js';
import type { IptablesPlan, IptablesTable } from './plan.js';
import { canonicalChain } from './rule-canon.js';
import { hasJump } from './save-parser.js';
import type { SavedTable } from './save-parser.js';
import { Chain } from './service-rules.js';

/** What a drift check found: the first chain that differs, and how. */
export interface DriftFinding {
  table: IptablesTable;
  chain: string;
  reason: string;
}

/** Chains partial syncs edit with -D / -I 1: their rule order is not the plan's, so they compare as sets. */
const EDITED_IN_PLACE: Readonly<Record<IptablesTable, ReadonlySet<string>>> = {
  nat: new Set([Chain.services, Chain.nodePorts]),
  filter: new Set([Chain.services, Chain.externalServices, Chain.nodePorts, Chain.proxyFirewall]),
};

/**
 * A 53-bit digest of a chain's saved text: two 32-bit FNV-1a hashes. Only
 * compared with the same chain's earlier text (to skip an unchanged chain), so
 * it needs no cryptographic strength, and it is ~10x cheaper than a node:crypto
 * hash object per chain (60,000 chains at 10,000 services).
 */
function digest(lines: readonly string[]): number {
  let a = 0x811c9dc5;
  let b = 0x9747b28c;
  for (const l of lines) {
    for (let i = 0; i < l.length; i++) {
      const c = l.charCodeAt(i);
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x5bd1e995);
    }
    a = Math.imul(a ^ 10, 0x01000193);
    b = Math.imul(b ^ 10, 0x5bd1e995);
  }
  return (a >>> 0) * 0x200000 + ((b >>> 0) & 0x1fffff);
}

/**
 * Compares the rules the kernel holds in our chains with the plan, by content:
 * a rule rewritten in place (same count, another DNAT target) is drift.
 *
 * iptables-save prints rules in its own form, so the first comparison of a
 * chain is by meaning (canonicalRule, ~1 µs a rule); once it matched, the
 * kernel's text of that chain is remembered as a 53-bit digest next to the plan's
 * lines (by reference), and later checks only hash the saved text. At 10,000
 * services that keeps a periodic check to about what `iptables-save` costs.
 */
export class ContentCheck {
  /** Per table and chain: the plan's lines (by reference) and the digest of the kernel's text when they matched. */
  private verified: Record<IptablesTable, Map<string, Verified>> = { nat: new Map(), filter: new Map() };
  private generation = 0;

  check(saved: ReadonlyMap<string, SavedTable>, plan: Pick<IptablesPlan, 'nat' | 'filter'>): DriftFinding | undefined {
    const gen = ++this.generation;
    for (const table of ['nat', 'filter'] as const) {
      const t = saved.get(table);
      const want = table === 'nat' ? plan.nat : plan.filter;
      const verified = this.verified[table];
      for (const [chain, lines] of want) {
        const found = this.chainDrift({ table, chain, lines, saved: t, verified, gen });
        if (found) return found;
      }
      // Chains the plan no longer has.
      if (verified.size > want.size) for (const [chain, v] of verified) if (v.gen !== gen) verified.delete(chain);
      const jump = JUMP_RULES.find((j) => j.table === table && !hasJump(t, j));
      if (jump) return { table, chain: jump.chain, reason: `jump to ${jump.target} missing` };
    }
    return undefined;
  }

  /** Forget what was verified (after a failed apply or a cleanup). */
  reset(): void {
    this.verified = { nat: new Map(), filter: new Map() };
  }

  private chainDrift(p: {
    table: IptablesTable;
    chain: string;
    lines: readonly string[];
    saved: SavedTable | undefined;
    verified: Map<string, Verified>;
    gen: number;
  }): DriftFinding | undefined {
    const { table, chain, lines } = p;
    if (!p.saved?.chains.has(chain)) return { table, chain, reason: 'chain missing' };
    const got = p.saved.rules.get(chain) ?? [];
    if (got.length !== lines.length) return { table, chain, reason: `${got.length} rules instead of ${lines.length}` };
    const savedDigest = digest(got);
    const known = p.verified.get(chain);
    if (known && known.lines === lines && known.saved === savedDigest) {
      known.gen = p.gen;
      return undefined;
    }
    // A chain that differs is compared by meaning again next time.
    p.verified.delete(chain);
    const unordered = EDITED_IN_PLACE[table].has(chain);
    const [a, b] = [canonicalChain(lines, unordered), canonicalChain(got, unordered)];
    for (let i = 0; i < a.length; i++) {
      if (a[i] !== b[i]) return { table, chain, reason: `rule ${i + 1} differs: kernel has "${unordered ? b[i] : got[i]}", plan "${unordered ? a[i] : lines[i]}"` };
    }
    p.verified.set(chain, { lines, saved: savedDigest, gen: p.gen });
    return undefined;
  }
}

interface Verified {
  lines: readonly string[];
  saved: number;
  gen: number;
}
