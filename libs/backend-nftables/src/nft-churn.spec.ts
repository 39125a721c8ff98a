/**
 * The nftables backend against the stateful `nft -f` fake: under seeded
 * churn every partial sync must leave the table a fresh full sync writes, and
 * packets traced through the *applied* table (read back from the fake) must
 * reach exactly the ready endpoints. The kernel churn e2e stays the proof;
 * this finds the same bugs without root, in seconds.
 */
import type { NodeConfig, ProxyState } from '@svcnet/proxy-core';
import { runChurnSyncs, serviceReachProblems } from '@svcnet/testing';
import type { ChurnSyncCase } from '@svcnet/testing';
import { describe, expect, it } from 'vitest';
import { NFT_TABLE } from './layout.js';
import { NftablesBackend } from './nftables-backend.js';
import { NODE } from './test-fixtures.js';
import { FakeNftExec } from './testing/index.js';
import { traceNftRuleset } from './tracer.js';

const list = (exec: FakeNftExec) => exec.ruleset.list('ip', NFT_TABLE);

/** A fresh kernel after one full sync of `state`. */
async function freshFullSync(config: NodeConfig, state: ProxyState): Promise<FakeNftExec> {
  const exec = new FakeNftExec();
  const b = new NftablesBackend({ exec });
  await b.apply(b.render({ state, config, full: true, changed: new Set(), lastApplied: undefined }));
  return exec;
}

const cases: ChurnSyncCase[] = [
  { name: 'seed 1', seed: 1, steps: 80 },
  { name: 'seed 20261127', seed: 20261127, steps: 80 },
  { name: 'up to 60 service ports, seed 7', seed: 7, steps: 50, maxServices: 60 },
  { name: 'node ports on one CIDR only, seed 3', seed: 3, steps: 60, config: { nodePortAddresses: ['192.168.50.0/24'] } },
  { name: 'agent restarts every 9 steps, seed 11', seed: 11, steps: 60, restartEvery: 9 },
  { name: 'a failed transaction every 7 steps, seed 5', seed: 5, steps: 60, failEvery: 7 },
];

describe('NftablesBackend on the stateful nft fake', () => {
  it.each(cases)('$name: partial syncs leave what a full sync writes, and packets reach the ready endpoints', async (c) => {
    const config: NodeConfig = { ...NODE, ...c.config };
    const exec = new FakeNftExec();
    const { partial } = await runChurnSyncs({
      churn: c,
      config,
      backend: () => new NftablesBackend({ exec }),
      failNext: () => exec.failNext((r) => r.file === 'nft'),
      clearFailures: () => exec.clearFailures(),
      check: async (state, why) => {
        expect(list(exec), why).toBe(list(await freshFullSync(config, state)));
        const applied = exec.ruleset.view('ip', NFT_TABLE)!;
        const problems = [...state.services.values()].flatMap((service) =>
          serviceReachProblems({ trace: (packet) => traceNftRuleset(applied, packet), service, endpoints: state.endpoints.get(service.id) ?? [], nodeIP: NODE.nodeIPs[0]! }),
        );
        expect(problems, why).toEqual([]);
      },
    });
    // Most syncs were partial: the check is about them.
    expect(partial).toBeGreaterThan(c.steps * 0.6);
  });
});
