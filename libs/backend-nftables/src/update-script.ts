/**
 * `nft -f` input: a whole-table replace, or a partial sync that touches only
 * what changed since the last applied plan — map and set elements, and the
 * few chains and sets that come and go (pick chains, affinity services).
 */
import { elementKeyText, elementText, elementValue, type NftElement } from './elements.js';
import { configSets, ELEMENT_MAPS, fixedChains, NFT_TABLE, pickChainRules } from './layout.js';
import { elementsOfKey, setBody } from './plan-views.js';
import type { NftPlan } from './render.js';
import { tableBuffer } from './table-text.js';
import type { NftSet, ServiceFragment, UdpTarget } from './service-fragment.js';

/** The whole table anew (start, after a failure, full syncs): one transaction, old table out, new in. */
export function replaceScript(plan: NftPlan): string {
  return replaceScriptBuffer(plan).toString();
}

/** replaceScript as a Buffer, as `nft -f` gets it (no 35 MB string at 50,000 services). */
export function replaceScriptBuffer(plan: NftPlan): Buffer {
  return tableBuffer(plan, `add table ip ${NFT_TABLE}\ndelete table ip ${NFT_TABLE}\n`);
}

/** The changes between two plans: from the later one's delta when it was derived from the earlier one, else every service port. */
function changesBetween(previous: NftPlan, plan: NftPlan): { changes: Array<{ before?: ServiceFragment; after?: ServiceFragment }>; claims: Iterable<string> } {
  if (plan.delta?.base === previous.fragments) return { changes: [...plan.delta.changes], claims: plan.delta.claims };
  const ids = new Set([...previous.fragments.keys(), ...plan.fragments.keys()]);
  const changes = [...ids].map((id) => ({ before: previous.fragments.get(id), after: plan.fragments.get(id) })).filter((c) => c.before !== c.after);
  return { changes, claims: new Set([...previous.owners.keys(), ...plan.owners.keys()]) };
}

const sameRules = (a: readonly string[] | undefined, b: readonly string[]): boolean =>
  a !== undefined && a.length === b.length && a.every((r, i) => r === b[i]);

/**
 * A partial sync, as kube-proxy's nftables mode does it, in one transaction
 * (as atomic as a replace). New chains are declared first (so elements and
 * rules may point at them), then new sets; chains whose rules changed are
 * flushed and refilled; elements that are gone or differ are deleted and the
 * new ones added; chains that are gone are flushed, then deleted (nothing
 * points at them any more); sets that are gone go last. The table and every
 * unchanged set stay, so ClientIP affinity entries survive. '' when nothing
 * changed. A different node configuration (a flag, so not at run time) falls
 * back to a replace.
 */
export function updateScript(previous: NftPlan, plan: NftPlan): string {
  const t = `ip ${NFT_TABLE}`;
  const fixed = (p: NftPlan) =>
    JSON.stringify([...fixedChains(p.config)]) + JSON.stringify(configSets(p.config)) + (pickChainRules('cluster-tcp-1', p.config) ?? []).join() + (pickChainRules('external-local-tcp-1-1', p.config) ?? []).join();
  if (fixed(previous) !== fixed(plan)) return replaceScript(plan);
  const { changes, claims } = changesBetween(previous, plan);

  const chainsBefore = new Map<string, readonly string[]>();
  const chainsAfter = new Map<string, readonly string[]>();
  const setsBefore = new Map<string, NftSet>();
  const setsAfter = new Map<string, NftSet>();
  for (const { before, after } of changes) {
    for (const [name, rules] of before?.chains ?? []) chainsBefore.set(name, rules);
    for (const [name, rules] of after?.chains ?? []) chainsAfter.set(name, rules);
    for (const [name, set] of before?.sets ?? []) setsBefore.set(name, set);
    for (const [name, set] of after?.sets ?? []) setsAfter.set(name, set);
  }
  for (const name of previous.picks.keys()) if (!plan.picks.has(name)) chainsBefore.set(name, pickChainRules(name, previous.config)!);
  for (const name of plan.picks.keys()) if (!previous.picks.has(name)) chainsAfter.set(name, pickChainRules(name, plan.config)!);

  const lines: string[] = [];
  for (const name of chainsAfter.keys()) if (!chainsBefore.has(name)) lines.push(`add chain ${t} ${name}`);
  for (const [name, set] of setsAfter) if (!setsBefore.has(name)) lines.push(`add set ${t} ${name} ${setBody(set)}`);
  for (const [name, rules] of chainsAfter) {
    const before = chainsBefore.get(name);
    if (sameRules(before, rules)) continue;
    if (before) lines.push(`flush chain ${t} ${name}`);
    for (const rule of rules) lines.push(`add rule ${t} ${name} ${rule}`);
  }

  const gone = new Map<string, string[]>();
  const added = new Map<string, string[]>();
  for (const key of claims) {
    const was = new Map<string, NftElement>(elementsOfKey(previous, key).map((e) => [`${e.map} ${elementKeyText(e)}`, e]));
    for (const e of elementsOfKey(plan, key)) {
      const id = `${e.map} ${elementKeyText(e)}`;
      const old = was.get(id);
      was.delete(id);
      if (old && elementValue(old) === elementValue(e)) continue;
      if (old) push(gone, old.map, elementKeyText(old));
      push(added, e.map, elementText(e));
    }
    for (const e of was.values()) push(gone, e.map, elementKeyText(e));
  }
  for (const { name } of ELEMENT_MAPS) {
    const g = gone.get(name);
    if (g) lines.push(`delete element ${t} ${name} { ${g.join(', ')} }`);
  }
  for (const { name } of ELEMENT_MAPS) {
    const a = added.get(name);
    if (a) lines.push(`add element ${t} ${name} { ${a.join(', ')} }`);
  }

  const goneChains = [...chainsBefore.keys()].filter((name) => !chainsAfter.has(name));
  for (const name of goneChains) lines.push(`flush chain ${t} ${name}`);
  for (const name of goneChains) lines.push(`delete chain ${t} ${name}`);
  for (const name of setsBefore.keys()) if (!setsAfter.has(name)) lines.push(`delete set ${t} ${name}`);
  return lines.length === 0 ? '' : `add table ${t}\n${lines.join('\n')}\n`;
}

function push(into: Map<string, string[]>, map: string, text: string): void {
  const list = into.get(map);
  if (list) list.push(text);
  else into.set(map, [text]);
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

/** UDP flows to delete after going from `previous` to `plan` (only the changed service ports are looked at). */
export function staleUdpFlowsBetween(previous: NftPlan, plan: NftPlan): ReturnType<typeof staleUdpFlows> {
  const { changes } = changesBetween(previous, plan);
  return staleUdpFlows(
    changes.flatMap((c) => c.before?.udp ?? []),
    changes.flatMap((c) => c.after?.udp ?? []),
  );
}
