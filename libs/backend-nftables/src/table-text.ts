/**
 * The whole table as `nft -f` input. At 50,000 services it is 35 MB: the
 * element text is written into Buffers as it is produced rather than kept as
 * hundreds of thousands of strings, which would grow the heap for good (the
 * agent's RSS).
 */
import { BASE_CHAINS, ELEMENT_MAPS, NFT_TABLE, type ElementMapName } from './layout.js';
import { chainsOf, claimOfKey, setParts, setsOf } from './plan-views.js';
import type { NftPlan } from './plan.js';
import { appendClaimText } from './service-fragment.js';

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const BATCH = 1 << 16;
const SEPARATOR = ',\n\t\t\t     ';

/** One map's elements, comma-separated, into Buffers (batched: one native write per ~64 KB of text). */
class ElementWriter {
  count = 0;
  private readonly chunks: Buffer[] = [];
  private pending = '';

  push(text: string): void {
    this.pending = this.count++ > 0 ? `${this.pending}${SEPARATOR}${text}` : text;
    if (this.pending.length >= BATCH) this.flush();
  }

  private flush(): void {
    if (this.pending.length > 0) this.chunks.push(Buffer.from(this.pending));
    this.pending = '';
  }

  buffers(): Buffer[] {
    this.flush();
    return this.chunks;
  }
}

/** `table ip svcnet { … }` (after `prefix`): element maps, sets, base chains, then chains by name. */
export function tableBuffer(plan: NftPlan, prefix = ''): Buffer {
  const writers = Object.fromEntries(ELEMENT_MAPS.map((m) => [m.name, new ElementWriter()])) as Record<ElementMapName, ElementWriter>;
  for (const [key, claimants] of [...plan.owners].sort((a, b) => byName(a[0], b[0]))) appendClaimText(plan.fragments.get(claimants[0]!.id)!, claimOfKey(key), writers);
  const out: Buffer[] = [];
  const text = (t: string) => out.push(Buffer.from(t));
  text(`${prefix}table ip ${NFT_TABLE} {\n`);
  for (const spec of ELEMENT_MAPS) {
    text(`\t${spec.kind} ${spec.name} {\n${spec.declaration.map((l) => `\t\t${l}\n`).join('')}`);
    const w = writers[spec.name];
    if (w.count > 0) {
      text('\t\telements = { ');
      out.push(...w.buffers());
      text(' }\n');
    }
    text('\t}\n');
  }
  const sets = setsOf(plan);
  for (const name of [...sets.keys()].sort(byName)) text(`\tset ${name} {\n${setParts(sets.get(name)!).map((l) => `\t\t${l}\n`).join('')}\t}\n`);
  for (const [name, hook, rules] of BASE_CHAINS) text(`\tchain ${name} {\n\t\t${hook}\n${rules.map((r) => `\t\t${r}\n`).join('')}\t}\n`);
  const chains = chainsOf(plan);
  for (const name of [...chains.keys()].sort(byName)) text(`\tchain ${name} {\n${chains.get(name)!.map((r) => `\t\t${r}\n`).join('')}\t}\n`);
  text('}\n');
  return Buffer.concat(out);
}
