/**
 * The iptables backend against the stateful iptables-restore fake: under
 * seeded churn every partial sync must leave the tables a fresh full sync of
 * the same state writes, and packets traced through the *applied* tables must
 * reach exactly the ready endpoints. The kernel churn e2e stays the proof;
 * this finds the same bugs without root, in seconds.
 */
import type { NodeConfig, ProxyState } from '@svcnet/proxy-core';
import { runChurnSyncs, serviceReachProblems } from '@svcnet/testing';
import type { ChurnSyncCase } from '@svcnet/testing';
import { describe, expect, it } from 'vitest';
import { IptablesBackend } from './iptables-backend.js';
import type { IptablesVariant } from './iptables-backend.js';
import { tracePacket } from './packet-tracer.js';
import { NODE } from './test-fixtures.js';
import { FakeIptablesExec } from './testing/index.js';

/** Chains partial syncs edit with -D / -I 1: their rule order may differ from a full sync's. */
const EDITED_IN_PLACE = new Set(['nat/KUBE-SERVICES', 'nat/KUBE-NODEPORTS', 'filter/KUBE-SERVICES', 'filter/KUBE-EXTERNAL-SERVICES']);

/** Every chain of nat and filter with its rules; sorted where partial syncs edit in place (the node-port jump must stay last). */
function view(exec: FakeIptablesExec, variant: IptablesVariant): string[] {
  const out: string[] = [];
  for (const table of ['nat', 'filter']) {
    for (const [chain, rules] of exec.tables[variant].chains(table)) {
      const key = `${table}/${chain}`;
      if (key === 'nat/KUBE-SERVICES' && rules.some((r) => r.includes('-j KUBE-NODEPORTS'))) {
        expect(rules.at(-1), 'the node-port jump must stay last').toContain('-j KUBE-NODEPORTS');
      }
      out.push(`${key}\n${(EDITED_IN_PLACE.has(key) ? [...rules].sort() : rules).join('\n')}`);
    }
  }
  return out;
}

/** A fresh kernel after one full sync of `state`. */
async function freshFullSync(variant: IptablesVariant, config: NodeConfig, state: ProxyState): Promise<FakeIptablesExec> {
  const exec = new FakeIptablesExec();
  const b = new IptablesBackend({ exec, variant });
  await b.apply(b.render({ state, config, full: true, changed: new Set(), lastApplied: undefined }));
  return exec;
}

const cases: (ChurnSyncCase & { variant: IptablesVariant })[] = [
  { name: 'iptables-nft, seed 1', variant: 'nft', seed: 1, steps: 100 },
  { name: 'iptables-legacy, seed 20261127', variant: 'legacy', seed: 20261127, steps: 100 },
  { name: 'up to 60 service ports, seed 7', variant: 'nft', seed: 7, steps: 80, maxServices: 60 },
  { name: 'node ports on one CIDR only, seed 3', variant: 'nft', seed: 3, steps: 60, config: { nodePortAddresses: ['192.168.50.0/24'] } },
  { name: 'agent restarts every 9 steps, seed 11', variant: 'nft', seed: 11, steps: 60, restartEvery: 9 },
  { name: 'a failed restore every 7 steps, seed 5', variant: 'legacy', seed: 5, steps: 60, failEvery: 7 },
];

describe('IptablesBackend on the stateful iptables-restore fake', () => {
  it.each(cases)('$name: partial syncs leave what a full sync writes, and packets reach the ready endpoints', async (c) => {
    const config: NodeConfig = { ...NODE, ...c.config };
    const exec = new FakeIptablesExec();
    const { partial } = await runChurnSyncs({
      churn: c,
      config,
      backend: () => new IptablesBackend({ exec, variant: c.variant }),
      failNext: () => exec.failNext((r) => r.file.endsWith('-restore')),
      clearFailures: () => exec.clearFailures(),
      check: async (state, why) => {
        expect(view(exec, c.variant), why).toEqual(view(await freshFullSync(c.variant, config, state), c.variant));
        // Read back once per step: the tracer caches parsed rules per chain map.
        const applied = { nat: exec.tables[c.variant].chains('nat'), filter: exec.tables[c.variant].chains('filter') };
        const problems = [...state.services.values()].flatMap((service) =>
          serviceReachProblems({ trace: (packet) => tracePacket(applied, packet), service, endpoints: state.endpoints.get(service.id) ?? [], nodeIP: NODE.nodeIPs[0]! }),
        );
        expect(problems, why).toEqual([]);
      },
    });
    // Most syncs were partial: the check is about them.
    expect(partial).toBeGreaterThan(c.steps * 0.6);
  });
});
