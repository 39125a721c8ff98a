/**
 * Read-only views of a plan: the elements a dispatch key holds, every chain
 * and set, what is skipped, and how sets are declared. Shared by the table
 * text, the update script, the drift check and the tracer.
 */
import type { NftElement } from './elements.js';
import { configSets, ELEMENT_MAPS, fixedChains, pickChainRules, type ElementMapName } from './layout.js';
import type { NftPlan } from './plan.js';
import { elementsOfClaim, type Claim, type NftSet } from './service-fragment.js';

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** The claim a dispatch key stands for (the address is part of the key). */
export function claimOfKey(key: string): Claim {
  if (key.startsWith('a ')) return { key, prio: 0, address: key.slice(2, key.indexOf(' ', 2)) };
  return key.startsWith('c ') ? { key, prio: 0, clusterIpSet: true } : { key, prio: 0 };
}

/** The elements a plan holds for one dispatch key: its owner's. */
export function elementsOfKey(plan: Pick<NftPlan, 'fragments' | 'owners'>, key: string): NftElement[] {
  const owner = plan.owners.get(key)?.[0];
  const f = owner && plan.fragments.get(owner.id);
  return f ? elementsOfClaim(f, claimOfKey(key)) : [];
}

/** Every regular chain of the plan with its rules: fixed, pick (in use) and affinity chains. */
export function chainsOf(plan: NftPlan): Map<string, readonly string[]> {
  const chains = fixedChains(plan.config);
  for (const name of plan.picks.keys()) chains.set(name, pickChainRules(name, plan.config)!);
  for (const f of plan.fragments.values()) for (const [name, rules] of f.chains) chains.set(name, rules);
  return chains;
}

/** Every named set that is not an element map: the node-port addresses, the service CIDRs and the affinity sets. */
export function setsOf(plan: NftPlan): Map<string, NftSet> {
  const sets = new Map<string, NftSet>();
  for (const [name, cidrs] of configSets(plan.config)) sets.set(name, { type: 'ipv4_addr', flags: 'interval', elements: cidrs });
  for (const f of plan.fragments.values()) for (const [name, set] of f.sets) sets.set(name, set);
  return sets;
}

/** Every element of every element map, by map (owners' elements, keys in order). */
export function elementsOf(plan: NftPlan): Map<ElementMapName, NftElement[]> {
  const out = new Map<ElementMapName, NftElement[]>(ELEMENT_MAPS.map((m) => [m.name, []]));
  for (const key of [...plan.owners.keys()].sort(byName)) for (const e of elementsOfKey(plan, key)) out.get(e.map)!.push(e);
  return out;
}

/** Service ports not programmed, with why (IPv6, SCTP). */
export function skippedOf(plan: NftPlan): Array<{ id: string; reason: string }> {
  const out: Array<{ id: string; reason: string }> = [];
  for (const f of plan.fragments.values()) if (f.skipped !== undefined) out.push({ id: f.id, reason: f.skipped });
  return out.sort((a, b) => byName(a.id, b.id));
}

/** A set's declarations: type, flags, timeout, elements. */
export function setParts(set: NftSet): string[] {
  const parts = [`type ${set.type}`, `flags ${set.flags}`];
  if (set.timeoutSeconds) parts.push(`timeout ${set.timeoutSeconds}s`);
  if (set.elements?.length) parts.push(`elements = { ${set.elements.join(', ')} }`);
  return parts;
}

/** A set's body on one line, as `add set` takes it: `{ type …; flags …; … }`. */
export function setBody(set: NftSet): string {
  return `{ ${setParts(set).join('; ')}; }`;
}

/** The declaration of an element map, as `add map/set` takes it (`{ …; }`). */
export function elementMapBody(name: ElementMapName): string {
  const spec = ELEMENT_MAPS.find((m) => m.name === name)!;
  return `{ ${spec.declaration.join('; ')}; }`;
}

