import { createHash } from 'node:crypto';
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
  filter: new Set([Chain.services, Chain.externalServices]),
};

function digest(lines: readonly string[]): string {
  const h = createHash('sha1');
  for (const l of lines) h.update(l).update('\n');
  return h.digest('base64');
}

/**
 * Compares the rules the kernel holds in our chains with the plan, by content:
 * a rule rewritten in place (same count, another DNAT target) is drift.
 *
 * iptables-save prints rules in its own form, so the first comparison of a
 * chain is by meaning (canonicalRule, ~1 µs a rule); once it matched, the
 * kernel's text of that chain is remembered as a digest next to the plan's
 * lines (by reference), and later checks only hash the saved text. At 10,000
 * services that keeps a periodic check to about what `iptables-save` costs.
 */
export class ContentCheck {
  private verified = new Map<string, { lines: readonly string[]; saved: string }>();

  check(saved: ReadonlyMap<string, SavedTable>, plan: Pick<IptablesPlan, 'nat' | 'filter'>): DriftFinding | undefined {
    const next = new Map<string, { lines: readonly string[]; saved: string }>();
    let found: DriftFinding | undefined;
    for (const table of ['nat', 'filter'] as const) {
      const t = saved.get(table);
      const want = table === 'nat' ? plan.nat : plan.filter;
      for (const [chain, lines] of want) {
        found = this.chainDrift({ table, chain, lines, saved: t, next });
        if (found) break;
      }
      if (found) break;
      const jump = JUMP_RULES.find((j) => j.table === table && !hasJump(t, j));
      if (jump) found = { table, chain: jump.chain, reason: `jump to ${jump.target} missing` };
      if (found) break;
    }
    // A chain that drifted (or was not reached) is compared by meaning again next time.
    this.verified = found ? new Map([...this.verified].filter(([k]) => next.has(k))) : next;
    return found;
  }

  /** Forget what was verified (after a failed apply or a cleanup). */
  reset(): void {
    this.verified.clear();
  }

  private chainDrift(p: {
    table: IptablesTable;
    chain: string;
    lines: readonly string[];
    saved: SavedTable | undefined;
    next: Map<string, { lines: readonly string[]; saved: string }>;
  }): DriftFinding | undefined {
    const { table, chain, lines } = p;
    if (!p.saved?.chains.has(chain)) return { table, chain, reason: 'chain missing' };
    const got = p.saved.rules.get(chain) ?? [];
    if (got.length !== lines.length) return { table, chain, reason: `${got.length} rules instead of ${lines.length}` };
    const key = `${table}/${chain}`;
    const savedDigest = digest(got);
    const known = this.verified.get(key);
    if (known && known.lines === lines && known.saved === savedDigest) {
      p.next.set(key, known);
      return undefined;
    }
    const unordered = EDITED_IN_PLACE[table].has(chain);
    const [a, b] = [canonicalChain(lines, unordered), canonicalChain(got, unordered)];
    for (let i = 0; i < a.length; i++) {
      if (a[i] !== b[i]) return { table, chain, reason: `rule ${i + 1} differs: kernel has "${unordered ? b[i] : got[i]}", plan "${unordered ? a[i] : lines[i]}"` };
    }
    p.next.set(key, { lines, saved: savedDigest });
    return undefined;
  }
}
