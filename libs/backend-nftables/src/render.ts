/**
 * nftables proxy mode, rendered: per service port a fragment (service-fragment.ts),
 * and per plan the indexes that say which fragment owns each dispatch key,
 * which shared pick chains are in use, and a digest of every element map.
 * A partial render derives all of it from the last applied plan in O(change)
 * (copy-on-write maps); the last plan is left as it was. Pure: state in,
 * plan out; the table text is produced on demand.
 */
import type { NodeConfig, ProxyState, RenderInput } from '@svcnet/proxy-core';
import { CowMap } from './cow-map.js';
import { digestWith, emptyDigests, type Digest, type Digests } from './elements.js';
import type { ElementMapName } from './layout.js';
import { elementsOfKey } from './plan-views.js';
import { claimsOf, renderService, type ServiceFragment } from './service-fragment.js';
import { tableBuffer } from './table-text.js';
import type { Claimant, NftPlan } from './plan.js';

export type { Claimant, NftPlan, PlanDelta } from './plan.js';

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const byClaimant = (a: Claimant, b: Claimant): number => a.prio - b.prio || byName(a.id, b.id);

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
      return tableBuffer(plan).toString();
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

/** The proxier's RenderInput; `lastApplied` and `changed` may be left out for a full render. */
export type NftRenderInput = Omit<RenderInput<NftPlan>, 'lastApplied' | 'changed'> & Partial<Pick<RenderInput<NftPlan>, 'lastApplied' | 'changed'>>;

/**
 * Renders the table for one node. Given the last applied plan and the service
 * ports changed since (a partial sync), only those are rendered again (the
 * proxier's change tracker lists every service port whose service or
 * endpoints changed); the plan records the difference for the update script.
 */
export function renderNftPlan(input: NftRenderInput): NftPlan {
  const { state, config, full, lastApplied, changed } = input;
  if (full || lastApplied === undefined || changed === undefined) return renderFull(state, config);
  return renderPartial(state, config, lastApplied, changed);
}

