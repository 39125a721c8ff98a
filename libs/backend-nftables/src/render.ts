/**
 * nftables proxy mode, rendered: per service port a fragment (service-fragment.ts),
 * and per plan the indexes that say which fragment owns each dispatch key,
 * which shared pick chains are in use, and a digest of every element map.
 * A partial render derives all of it from the last applied plan in O(change)
 * (copy-on-write maps); the last plan is left as it was. Pure: state in,
 * plan out; the table text is produced on demand.
 */
import type { NodeConfig, ProxyState } from '@svcnet/proxy-core';
import { CowMap } from './cow-map.js';
import { digestWith, emptyDigests, type Digest, type Digests, type NftElement } from './elements.js';
import {
  BASE_CHAINS,
  ELEMENT_MAPS,
  fixedChains,
  NFT_TABLE,
  NODEPORT_IPS,
  nodePortCidrs,
  pickChainRules,
  type ElementMapName,
} from './layout.js';
import { appendClaimText, claimsOf, elementsOfClaim, renderService, type Claim, type NftSet, type ServiceFragment } from './service-fragment.js';

/** A service port that claims a dispatch key; the first (lowest prio, then id) owns it. */
export interface Claimant {
  id: string;
  prio: number;
}

/** How a partially rendered plan differs from the plan it was derived from. */
export interface PlanDelta {
  /** The fragments of that plan (identity tells whether a given previous plan is it). */
  base: CowMap<ServiceFragment>;
  changes: ReadonlyArray<{ id: string; before?: ServiceFragment; after?: ServiceFragment }>;
  /** Dispatch keys whose owner or whose owner's elements may differ. */
  claims: ReadonlySet<string>;
}

export interface NftPlan {
  full: boolean;
  config: NodeConfig;
  /** Service port id → what it puts in the table. */
  fragments: CowMap<ServiceFragment>;
  /** Dispatch key → the service ports claiming it, owner first. */
  owners: CowMap<readonly Claimant[]>;
  /** Pick chain → how many service ports use it. */
  picks: ReadonlyMap<string, number>;
  /**
   * What each element map must hold, as the drift check compares it with the
   * kernel: computed on first use (a full render does not pay for it), then
   * carried by partial renders in O(change).
   */
  readonly digests: Digests;
  /** Set by a partial render: what changed since `delta.base`. */
  delta?: PlanDelta;
  /** The whole table as `nft -f` input (rendered on each read: it is large and rarely needed). */
  readonly table: string;
}

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const byClaimant = (a: Claimant, b: Claimant): number => a.prio - b.prio || byName(a.id, b.id);

/** The claim a dispatch key stands for (the address is part of the key). */
export function claimOfKey(key: string): Claim {
  return key.startsWith('a ') ? { key, prio: 0, address: key.slice(2, key.indexOf(' ', 2)) } : { key, prio: 0 };
}

/** The elements a plan holds for one dispatch key: its owner's. */
export function elementsOfKey(plan: Pick<NftPlan, 'fragments' | 'owners'>, key: string): NftElement[] {
  const owner = plan.owners.get(key)?.[0];
  const f = owner && plan.fragments.get(owner.id);
  return f ? elementsOfClaim(f, claimOfKey(key)) : [];
}

function addPicks(picks: Map<string, number>, f: ServiceFragment | undefined, sign: 1 | -1): void {
  for (const p of f?.picks ?? []) {
    const n = (picks.get(p) ?? 0) + sign;
    if (n > 0) picks.set(p, n);
    else picks.delete(p);
  }
}

/** Digests of plans whose digests have been computed (a partial render carries them on). */
const knownDigests = new WeakMap<NftPlan, Digests>();

function computeDigests(plan: Pick<NftPlan, 'fragments' | 'owners'>): Digests {
  const digests = emptyDigests();
  for (const key of plan.owners.keys()) for (const e of elementsOfKey(plan, key)) digests[e.map] = digestWith(digests[e.map], e, 1);
  return digests;
}

function makePlan(fields: Omit<NftPlan, 'table' | 'digests'>, digests?: Digests): NftPlan {
  const plan: NftPlan = {
    ...fields,
    get digests() {
      let d = knownDigests.get(plan);
      if (!d) knownDigests.set(plan, (d = computeDigests(plan)));
      return d;
    },
    get table() {
      return renderTable(plan);
    },
  };
  if (digests) knownDigests.set(plan, digests);
  return plan;
}

/** Every fragment rendered anew. */
function renderFull(state: ProxyState, config: NodeConfig): NftPlan {
  const fragments = CowMap.builder<ServiceFragment>();
  const owners = CowMap.builder<Claimant[]>();
  const contested: Claimant[][] = [];
  const picks = new Map<string, number>();
  for (const sp of state.services.values()) {
    const f = renderService(sp, state.endpoints.get(sp.id) ?? [], config);
    fragments.set(sp.id, f);
    addPicks(picks, f, 1);
    for (const c of claimsOf(f)) {
      const list = owners.get(c.key);
      if (!list) owners.set(c.key, [{ id: f.id, prio: c.prio }]);
      else if (list.push({ id: f.id, prio: c.prio }) === 2) contested.push(list);
    }
  }
  for (const list of contested) list.sort(byClaimant);
  return makePlan({ full: true, config, fragments: fragments.done(), owners: owners.done(), picks });
}

/** Only the changed service ports rendered; everything else carried over from `last`. */
function renderPartial(state: ProxyState, config: NodeConfig, last: NftPlan, changed: ReadonlySet<string>): NftPlan {
  const changes: Array<{ id: string; before?: ServiceFragment; after?: ServiceFragment }> = [];
  for (const id of changed) {
    const before = last.fragments.get(id);
    const sp = state.services.get(id);
    const after = sp ? renderService(sp, state.endpoints.get(id) ?? [], config) : undefined;
    if (before || after) changes.push({ id, ...(before ? { before } : {}), ...(after ? { after } : {}) });
  }
  const fragments = last.fragments.with(changes.map((c) => [c.id, c.after] as const));

  const changedIds = new Set(changes.map((c) => c.id));
  const claims = new Set<string>();
  const claimed = new Map<string, Claimant[]>();
  for (const c of changes) {
    for (const cl of claimsOf(c.before ?? c.after!)) claims.add(cl.key);
    if (!c.after) continue;
    for (const cl of claimsOf(c.after)) {
      claims.add(cl.key);
      claimed.set(cl.key, [...(claimed.get(cl.key) ?? []), { id: c.id, prio: cl.prio }]);
    }
  }
  const ownerUpdates: Array<[string, readonly Claimant[] | undefined]> = [];
  for (const key of claims) {
    const list = [...(last.owners.get(key) ?? []).filter((c) => !changedIds.has(c.id)), ...(claimed.get(key) ?? [])].sort(byClaimant);
    ownerUpdates.push([key, list.length > 0 ? list : undefined]);
  }
  const owners = last.owners.with(ownerUpdates);

  const picks = new Map(last.picks);
  for (const c of changes) {
    addPicks(picks, c.before, -1);
    addPicks(picks, c.after, 1);
  }
  const lastDigests = knownDigests.get(last);
  let digests: Record<ElementMapName, Digest> | undefined;
  if (lastDigests) {
    digests = { ...lastDigests };
    for (const key of claims) {
      const was = last.owners.get(key)?.[0];
      const now = owners.get(key)?.[0];
      if (was && now && was.id === now.id && last.fragments.get(was.id) === fragments.get(now.id)) continue;
      for (const e of elementsOfKey(last, key)) digests[e.map] = digestWith(digests[e.map], e, -1);
      for (const e of elementsOfKey({ fragments, owners }, key)) digests[e.map] = digestWith(digests[e.map], e, 1);
    }
  }
  return makePlan({ full: false, config, fragments, owners, picks, delta: { base: last.fragments, changes, claims } }, digests);
}

/**
 * Renders the table for one node. Given the last applied plan and the service
 * ports changed since (a partial sync), only those are rendered again (the
 * proxier's change tracker lists every service port whose service or
 * endpoints changed); the plan records the difference for the update script.
 */
export function renderNftPlan(
  state: ProxyState,
  config: NodeConfig,
  full: boolean,
  lastApplied?: NftPlan,
  changed?: ReadonlySet<string>,
): NftPlan {
  if (full || lastApplied === undefined || changed === undefined) return renderFull(state, config);
  return renderPartial(state, config, lastApplied, changed);
}

/** Every regular chain of the plan with its rules: fixed, pick (in use) and affinity chains. */
export function chainsOf(plan: NftPlan): Map<string, readonly string[]> {
  const chains = fixedChains(plan.config);
  for (const name of plan.picks.keys()) chains.set(name, pickChainRules(name, plan.config)!);
  for (const f of plan.fragments.values()) for (const [name, rules] of f.chains) chains.set(name, rules);
  return chains;
}

/** Every named set that is not an element map: the node-port addresses and the affinity sets. */
export function setsOf(plan: NftPlan): Map<string, NftSet> {
  const sets = new Map<string, NftSet>();
  const cidrs = nodePortCidrs(plan.config);
  if (cidrs.length > 0) sets.set(NODEPORT_IPS, { type: 'ipv4_addr', flags: 'interval', elements: cidrs });
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

/** The table as one `table ip svcnet { … }` block: element maps, sets, base chains, then chains by name. */
function renderTable(plan: NftPlan): string {
  const out: string[] = [`table ip ${NFT_TABLE} {`];
  const texts = Object.fromEntries(ELEMENT_MAPS.map((m) => [m.name, [] as string[]])) as Record<ElementMapName, string[]>;
  for (const [key, claimants] of [...plan.owners].sort((a, b) => byName(a[0], b[0]))) appendClaimText(plan.fragments.get(claimants[0]!.id)!, claimOfKey(key), texts);
  for (const spec of ELEMENT_MAPS) {
    const els = texts[spec.name];
    out.push(`\t${spec.kind} ${spec.name} {`, ...spec.declaration.map((l) => `\t\t${l}`));
    if (els.length > 0) out.push(`\t\telements = { ${els.join(',\n\t\t\t     ')} }`);
    out.push('\t}');
  }
  const sets = setsOf(plan);
  for (const name of [...sets.keys()].sort(byName)) {
    out.push(`\tset ${name} {\n${setParts(sets.get(name)!).map((l) => `\t\t${l}\n`).join('')}\t}`);
  }
  for (const [name, hook, rules] of BASE_CHAINS) out.push(`\tchain ${name} {\n\t\t${hook}\n${rules.map((r) => `\t\t${r}\n`).join('')}\t}`);
  const chains = chainsOf(plan);
  for (const name of [...chains.keys()].sort(byName)) {
    out.push(`\tchain ${name} {\n${chains.get(name)!.map((r) => `\t\t${r}\n`).join('')}\t}`);
  }
  out.push('}', '');
  return out.join('\n');
}

