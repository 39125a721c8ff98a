/**
 * The nftables plan's shape: what a render produces and the apply, the drift
 * check and the table text read. Kept apart from render.ts so the readers do
 * not import the renderer.
 */
import type { NodeConfig } from '@svcnet/proxy-core';
import type { CowMap } from './cow-map.js';
import type { Digests } from './elements.js';
import type { ServiceFragment } from './service-fragment.js';

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
  /** The whole table as `nft -f` input (rendered on each read: it is large and rarely needed; see table-text.ts). */
  readonly table: string;
}
