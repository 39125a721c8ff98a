import type { JumpRule } from './jump-rules.js';

/** One table of `iptables-save` output. */
export interface SavedTable {
  /** Every chain, built-in or not. */
  chains: Set<string>;
  /** Rule lines (`-A …`) per chain, as printed. */
  rules: Map<string, string[]>;
}

/** Parses `iptables-save` text into tables; comments and counters are ignored. */
export function parseSave(text: string): Map<string, SavedTable> {
  const tables = new Map<string, SavedTable>();
  let cur: SavedTable | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('*')) {
      cur = { chains: new Set(), rules: new Map() };
      tables.set(line.slice(1), cur);
    } else if (!cur) {
      continue;
    } else if (line.startsWith(':')) {
      cur.chains.add(wordAt(line, 1));
    } else if (line.startsWith('-A ')) {
      // No split of the whole line: a 10,000-service save has 170k rules, parsed at every drift check.
      const chain = wordAt(line, 3);
      let list = cur.rules.get(chain);
      if (!list) cur.rules.set(chain, (list = []));
      list.push(line);
    } else if (line === 'COMMIT') {
      cur = undefined;
    }
  }
  return tables;
}

function wordAt(line: string, from: number): string {
  const end = line.indexOf(' ', from);
  return end < 0 ? line.slice(from) : line.slice(from, end);
}

/**
 * True when the saved table holds the jump rule. iptables-save reorders
 * matches, so the check is: same built-in chain, same target, same comment.
 */
export function hasJump(table: SavedTable | undefined, j: JumpRule): boolean {
  const comment = /--comment ("[^"]*"|\S+)/.exec(j.spec)?.[1];
  const bare = comment?.replace(/^"|"$/g, '');
  return (table?.rules.get(j.chain) ?? []).some(
    (l) =>
      l.endsWith(` -j ${j.target}`) &&
      (bare === undefined ? !l.includes('--comment') : l.includes(`--comment "${bare}"`) || l.includes(`--comment ${bare}`)),
  );
}

/** The target of a saved rule (`-j X`), if any. */
export function ruleTarget(line: string): string | undefined {
  return / -j (\S+)/.exec(line)?.[1];
}
