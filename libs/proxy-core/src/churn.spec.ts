import { describe, expect, it } from 'vitest';
import { ChurnModel, seededRandom } from './churn.js';
import type { ProxyState } from './types.js';

/** Service port ids whose service or endpoints differ between two states. */
function differing(a: ProxyState, b: ProxyState): string[] {
  const ids = new Set([...a.services.keys(), ...b.services.keys()]);
  return [...ids]
    .filter((id) => JSON.stringify([a.services.get(id), a.endpoints.get(id)]) !== JSON.stringify([b.services.get(id), b.endpoints.get(id)]))
    .sort();
}

describe('ChurnModel', () => {
  it('is reproducible: the same seed gives the same states', () => {
    const run = (seed: number) => {
      const m = new ChurnModel(seededRandom(seed));
      return Array.from({ length: 30 }, () => {
        m.step();
        return JSON.stringify([[...m.state().services], [...m.state().endpoints]]);
      });
    };
    expect(run(7)).toEqual(run(7));
    expect(run(7)).not.toEqual(run(8));
  });

  it('reports every service port it changed (and only those), stays within bounds, keeps node ports unique', () => {
    const m = new ChurnModel(seededRandom(42), { maxServices: 10 });
    const seen = new Set<string>();
    let before = m.state();
    for (let i = 0; i < 300; i++) {
      const changed = m.step();
      const after = m.state();
      const diff = differing(before, after);
      // A step may change a port back (e.g. a ready flag flipped twice): reported, yet equal.
      for (const id of diff) expect(changed.has(id), `step ${i}: ${id} changed but not reported`).toBe(true);
      expect(after.services.size).toBeLessThanOrEqual(10);
      const nodePorts = [...after.services.values()].map((s) => s.nodePort).filter((p) => p > 0);
      expect(new Set(nodePorts).size).toBe(nodePorts.length);
      for (const s of after.services.values()) {
        seen.add(`${s.protocol} ${s.sessionAffinity.kind} np=${s.nodePort > 0} local=${s.externalPolicyLocal}`);
        if (s.externalPolicyLocal) expect(s.nodePort).toBeGreaterThan(0);
      }
      before = after;
    }
    // The churn reaches the combinations backends special-case.
    for (const want of ['UDP None', 'TCP ClientIP', 'np=true local=true', 'np=false local=false']) {
      expect([...seen].some((x) => x.includes(want)), want).toBe(true);
    }
  });
});
