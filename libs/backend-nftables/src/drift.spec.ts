import { describe, expect, it } from 'vitest';
import { buildEndpoint, buildProxyState, buildServicePort } from '@svcnet/proxy-core/testing';
import type { NodeConfig } from '@svcnet/proxy-core';
import { DriftTracker, type Probe } from './drift.js';
import type { Digest } from './elements.js';
import { parseProbe, type ProbeResult } from './kernel-probe.js';
import { BASE_CHAINS, ELEMENT_MAPS } from './layout.js';
import { chainsOf, setsOf } from './plan-views.js';
import { renderNftPlan, type NftPlan } from './render.js';

const config: NodeConfig = { nodeName: 'node1', nodeIPs: ['192.168.77.11'], clusterCIDR: '10.244.0.0/16', masqueradeAll: false, nodePortAddresses: [] };
const plan = renderNftPlan({ state: buildProxyState([
    [buildServicePort({ name: 'a', clusterIP: '10.96.0.10', port: 80, nodePort: 30010 }), [buildEndpoint('10.244.1.2', 8080), buildEndpoint('10.244.1.3', 8080)]],
    [buildServicePort({ name: 'b', clusterIP: '10.96.0.11', port: 80, sessionAffinity: { kind: 'ClientIP', timeoutSeconds: 60 } }), [buildEndpoint('10.244.1.4', 8080)]],
  ]), config, full: true });

/** A kernel as the probe sees it, holding `plan` exactly; tests edit it behind the tracker's back. */
class ModelKernel {
  gen = 100;
  chains = new Map([...BASE_CHAINS.map(([name, , rules]) => [name, rules] as const), ...chainsOf(plan)].map(([name, rules]) => [name, `${rules.length}:${rules.join('|').length}`]));
  sets = new Set([...ELEMENT_MAPS.map((m) => m.name as string), ...setsOf(plan).keys()]);
  elements = new Map<string, Digest>(Object.entries(plan.digests));
  /** Commits made while a probe reads (a busy namespace). */
  commitsDuringReads = 0;
  calls: string[] = [];

  readonly probe: Probe = async (mode, sets) => {
    this.calls.push(mode);
    const genBefore = this.gen;
    if (mode === 'rules' && this.commitsDuringReads > 0) {
      this.commitsDuringReads--;
      this.gen++;
    }
    const r: ProbeResult = { genBefore, genAfter: this.gen, chains: new Map(), sets: new Set(), elements: new Map() };
    if (mode === 'rules') {
      r.chains = new Map(this.chains);
      r.sets = new Set(this.sets);
      for (const s of sets) r.elements.set(s, this.sets.has(s) ? this.elements.get(s) : undefined);
    }
    return r;
  };

  /** Our own transaction (what apply does around `nft -f`). */
  async ourCommit(tracker: DriftTracker, p: NftPlan, written: ReadonlySet<string> | 'all'): Promise<void> {
    if (written === 'all' || written.size > 0) await tracker.beforeCommit();
    this.gen++;
    await tracker.afterCommit(p, written);
  }
}

async function applied(): Promise<{ kernel: ModelKernel; tracker: DriftTracker }> {
  const kernel = new ModelKernel();
  const tracker = new DriftTracker(kernel.probe);
  await kernel.ourCommit(tracker, plan, 'all');
  kernel.calls = [];
  return { kernel, tracker };
}

const someChain = () => [...chainsOf(plan).keys()].find((c) => /^cluster-(tcp|udp)-/.test(c))!;

describe('DriftTracker', () => {
  it('nothing committed since our apply: one generation read, no drift', async () => {
    const { kernel, tracker } = await applied();
    expect(await tracker.check(plan)).toEqual([]);
    expect(kernel.calls).toEqual(['gen']);
  });

  it('our own partial syncs keep the check cheap; one that changed chains re-reads the rules once', async () => {
    const { kernel, tracker } = await applied();
    await kernel.ourCommit(tracker, plan, new Set());
    await kernel.ourCommit(tracker, plan, new Set(['cluster-tcp-2']));
    expect(kernel.calls).toEqual(['gen', 'rules']);
    expect(await tracker.check(plan)).toEqual([]);
    expect(kernel.calls).toEqual(['gen', 'rules', 'gen']);
  });

  it('another program committed (its own table): the whole table is read, found intact, and the check is cheap again', async () => {
    const { kernel, tracker } = await applied();
    kernel.gen += 3;
    expect(await tracker.check(plan)).toEqual([]);
    expect(kernel.calls).toEqual(['gen', 'rules']);
    expect(await tracker.check(plan)).toEqual([]);
    expect(kernel.calls).toEqual(['gen', 'rules', 'gen']);
  });

  type Tamper = (k: ModelKernel) => void;
  const bump = (f: Tamper): Tamper => (k) => {
    f(k);
    k.gen++;
  };
  it.each<{ name: string; tamper: Tamper; reason: RegExp }>([
    {
      name: 'an element rewritten to another pod',
      tamper: bump((k) => k.elements.set('cluster-endpoints-tcp', { ...k.elements.get('cluster-endpoints-tcp')!, h1: 1 })),
      reason: /^elements of cluster-endpoints-tcp changed$/,
    },
    {
      name: 'a map element deleted',
      tamper: bump((k) => k.elements.set('service-ips', { count: 1, h1: 5, h2: 6 })),
      reason: /^service-ips holds 1 elements, 2 expected$/,
    },
    { name: 'a rule deleted in a pick chain', tamper: bump((k) => k.chains.set(someChain(), '1:9')), reason: /^rules changed in: cluster-tcp-2$/ },
    { name: 'a flushed dispatch chain', tamper: bump((k) => k.chains.set('services', '0:0')), reason: /^rules changed in: services$/ },
    { name: 'a hook chain changed', tamper: bump((k) => k.chains.set('nat-prerouting', '1:3')), reason: /^rules changed in: nat-prerouting$/ },
    { name: 'a chain deleted', tamper: bump((k) => k.chains.delete('mark-for-masquerade')), reason: /^chains missing: mark-for-masquerade$/ },
    { name: 'a chain added to our table', tamper: bump((k) => k.chains.set('mine', '0:0')), reason: /^chains not ours: mine$/ },
    { name: 'a set deleted', tamper: bump((k) => k.sets.delete('hairpin-nodeports')), reason: /^sets missing: hairpin-nodeports$/ },
  ])('sees $name', async ({ tamper, reason }) => {
    const { kernel, tracker } = await applied();
    tamper(kernel);
    const reasons = await tracker.check(plan);
    expect(reasons).toHaveLength(1);
    expect(reasons[0]).toMatch(reason);
  });

  it('someone else committed before our sync wrote a chain: the chains it did not write keep their old digests', async () => {
    const { kernel, tracker } = await applied();
    kernel.chains.set('services', '0:0'); // flushed by hand …
    kernel.gen++;
    kernel.chains.set(someChain(), '2:99'); // … then our partial sync rewrites a pick chain
    await kernel.ourCommit(tracker, plan, new Set([someChain()]));
    expect(await tracker.check(plan)).toEqual(['rules changed in: services']);
    kernel.chains.set('services', '2:99');
    expect(await tracker.check(plan)).toEqual(['rules changed in: services']);
  });

  it('a commit right after our replace (it may have edited what we wrote): no trusted copy, the next check asks for a full sync', async () => {
    const kernel = new ModelKernel();
    const tracker = new DriftTracker(kernel.probe);
    await tracker.beforeCommit();
    kernel.gen += 2; // ours and someone else's
    await tracker.afterCommit(plan, 'all');
    expect(await tracker.check(plan)).toEqual(['no trusted copy of the rules (another transaction committed right around ours)']);
  });

  it('a commit right after our partial sync: the chains it wrote have no trusted copy', async () => {
    const { kernel, tracker } = await applied();
    await tracker.beforeCommit();
    kernel.gen += 2;
    await tracker.afterCommit(plan, new Set([someChain()]));
    expect(await tracker.check(plan)).toEqual([`no trusted copy of the rules of: ${someChain()}`]);
  });

  it('a ruleset that keeps changing while it is read counts as drift (after a second look)', async () => {
    const { kernel, tracker } = await applied();
    kernel.gen++;
    kernel.commitsDuringReads = 2;
    expect(await tracker.check(plan)).toEqual(['the ruleset kept changing while it was read']);
    expect(kernel.calls).toEqual(['gen', 'rules', 'rules']);
  });

  it('after reset (failed apply, cleanup) nothing is trusted', async () => {
    const { kernel, tracker } = await applied();
    tracker.reset();
    expect(await tracker.check(plan)).toHaveLength(1);
    expect(kernel.calls).toEqual(['rules']);
  });
});

describe('parseProbe', () => {
  it('reads the probe\'s lines', () => {
    const r = parseProbe('gen 7\nchain services 2 123\nset service-ips\nelems service-ips 3 10 20\nmissing nope -2\ngen 8\n');
    expect(r).toEqual({
      genBefore: 7,
      genAfter: 8,
      chains: new Map([['services', '2:123']]),
      sets: new Set(['service-ips']),
      elements: new Map([
        ['service-ips', { count: 3, h1: 10, h2: 20 }],
        ['nope', undefined],
      ]),
    });
  });

  it.each([
    { name: 'no generation', out: 'chain a 1 2\n' },
    { name: 'garbage', out: 'gen 1\nwhat is this\n' },
  ])('refuses $name', ({ out }) => {
    expect(() => parseProbe(out)).toThrow(/probe output/);
  });
});
