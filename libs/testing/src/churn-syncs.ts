import { ChurnModel, seededRandom } from '@svcnet/proxy-core/testing';
import type { NodeConfig, ProxyBackend, ProxyState } from '@svcnet/proxy-core';

/** One churn run: a seed, a length, and what else happens to the agent on the way. */
export interface ChurnSyncCase {
  name: string;
  seed: number;
  steps: number;
  maxServices?: number;
  config?: Partial<NodeConfig>;
  /** Start a new backend (agent restart: no last plan) every this many steps. */
  restartEvery?: number;
  /** Make the apply fail every this many steps (the proxier then forgets its last plan and syncs in full). */
  failEvery?: number;
}

/** Parameters of runChurnSyncs. */
export interface ChurnSyncParams<Plan> {
  churn: ChurnSyncCase;
  config: NodeConfig;
  /** A new backend on the fake kernel under test (called again at every restart). */
  backend: () => ProxyBackend<Plan>;
  /** Makes the fake kernel's next call fail with "injected failure"; clearFailures forgets one no call met. */
  failNext: () => void;
  clearFailures: () => void;
  /** Checks the kernel after a successful sync of `state` (throws, e.g. through expect, when it is wrong). */
  check: (state: ProxyState, why: string) => Promise<void> | void;
}

/**
 * Drives a backend as the proxier does through seeded churn: a full sync
 * first (and after every restart or failed apply), partial syncs with the
 * changed service ports otherwise, `check` after every successful sync.
 * Returns how many syncs were partial.
 */
export async function runChurnSyncs<Plan>(p: ChurnSyncParams<Plan>): Promise<{ partial: number }> {
  const c = p.churn;
  const model = new ChurnModel(seededRandom(c.seed), { nodeName: p.config.nodeName, maxServices: c.maxServices });
  let backend = p.backend();
  let last: Plan | undefined;
  let partial = 0;
  for (let step = 0; step < c.steps; step++) {
    const changed = model.step();
    const state = model.state();
    const why = `seed ${c.seed}, step ${step}, changed ${[...changed].join(' ')}`;
    if (c.restartEvery && step > 0 && step % c.restartEvery === 0) {
      backend = p.backend();
      last = undefined;
    }
    const full = last === undefined;
    const plan = backend.render({ state, config: p.config, full, changed, lastApplied: last });
    const failing = c.failEvery !== undefined && step % c.failEvery === c.failEvery - 1;
    if (failing) p.failNext();
    try {
      await backend.apply(plan);
    } catch (err) {
      if (!failing || !String(err instanceof Error ? err.message : err).includes('injected failure')) throw new Error(`${why}: ${String(err)}`, { cause: err });
      last = undefined;
      continue;
    }
    // A sync with nothing to write makes no call: the injected failure is not met.
    if (failing) p.clearFailures();
    last = plan;
    if (!full) partial++;
    await p.check(state, why);
  }
  return { partial };
}
