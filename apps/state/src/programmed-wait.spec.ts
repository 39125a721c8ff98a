import { describe, expect, it } from 'vitest';
import { judgeProgrammed, waitProgrammed, type JudgedNode, type ProgressSource } from './programmed-wait.js';

const node = (name: string, programmedRevision: number, condition: 'Ready' | 'NotReady' = 'Ready'): JudgedNode => ({ name, programmedRevision, condition });

describe('judgeProgrammed', () => {
  const cases = [
    { name: 'no nodes: nothing to wait for', nodes: [], revision: 5, programmed: true, done: [], pending: [], notReady: [] },
    { name: 'every Ready node at or past the revision', nodes: [node('a', 5), node('b', 9)], revision: 5, programmed: true, done: ['a', 'b'], pending: [], notReady: [] },
    { name: 'one Ready node behind', nodes: [node('a', 5), node('b', 4)], revision: 5, programmed: false, done: ['a'], pending: ['b'], notReady: [] },
    { name: 'a NotReady node behind is not waited for', nodes: [node('a', 7), node('b', 1, 'NotReady')], revision: 5, programmed: true, done: ['a'], pending: [], notReady: ['b'] },
    { name: 'a NotReady node ahead is still listed apart', nodes: [node('a', 4), node('b', 9, 'NotReady')], revision: 5, programmed: false, done: [], pending: ['a'], notReady: ['b'] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const j = judgeProgrammed(c.nodes, c.revision);
      expect({ programmed: j.programmed, done: j.programmedNodes.map((n) => n.name), pending: j.pendingNodes.map((n) => n.name), notReady: j.notReadyNodes.map((n) => n.name) }).toEqual({
        programmed: c.programmed,
        done: c.done,
        pending: c.pending,
        notReady: c.notReady,
      });
    });
  }
});

/** A fleet in memory: nodes answer probes by advancing when the test says so. */
function fakeFleet(initial: JudgedNode[]) {
  const nodes = new Map(initial.map((n) => [n.name, { ...n }]));
  const listeners = new Set<(node?: string) => void>();
  const probes: number[] = [];
  let fullReads = 0;
  const source: ProgressSource = {
    nodes: () => {
      fullReads++;
      return [...nodes.values()];
    },
    node: (name) => nodes.get(name),
    listen: (fn) => {
      listeners.add(fn);
      return () => void listeners.delete(fn);
    },
    probe: (r) => void probes.push(r),
  };
  return {
    source,
    probes,
    listeners,
    get fullReads() {
      return fullReads;
    },
    report(name: string, revision: number, condition: 'Ready' | 'NotReady' = 'Ready') {
      const n = nodes.get(name) ?? { name, programmedRevision: 0, condition };
      nodes.set(name, { ...n, programmedRevision: revision, condition });
      for (const fn of listeners) fn(name);
    },
    forget(name: string) {
      nodes.delete(name);
      for (const fn of listeners) fn(name);
    },
    relist() {
      for (const fn of listeners) fn();
    },
  };
}

describe('waitProgrammed', () => {
  it('answers at once, without probing, when every node is already there', async () => {
    const f = fakeFleet([node('a', 10)]);
    const j = await waitProgrammed({ source: f.source, revision: 10, timeoutMs: 1_000 });
    expect(j.programmed).toBe(true);
    expect(f.probes).toEqual([]);
  });

  it('probes, and resolves as soon as the last node reports', async () => {
    const f = fakeFleet([node('a', 1), node('b', 1)]);
    const started = Date.now();
    const wait = waitProgrammed({ source: f.source, revision: 7, timeoutMs: 10_000 });
    expect(f.probes).toEqual([7]);
    f.report('a', 7);
    setTimeout(() => f.report('b', 8), 50);
    const j = await wait;
    expect(j).toMatchObject({ programmed: true, revision: 7, pendingNodes: [] });
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(f.listeners.size).toBe(0);
  });

  it('times out naming the nodes that have not, and re-probes meanwhile', async () => {
    const f = fakeFleet([node('a', 9), node('b', 3), node('c', 0, 'NotReady')]);
    const j = await waitProgrammed({ source: f.source, revision: 9, timeoutMs: 250, reprobeMs: 100 });
    expect(j.programmed).toBe(false);
    expect(j.pendingNodes).toEqual([{ name: 'b', programmedRevision: 3 }]);
    expect(j.notReadyNodes.map((n) => n.name)).toEqual(['c']);
    expect(f.probes.length).toBeGreaterThanOrEqual(2);
  });

  it('ends early when the caller goes away', async () => {
    const f = fakeFleet([node('a', 0)]);
    const ac = new AbortController();
    const wait = waitProgrammed({ source: f.source, revision: 1, timeoutMs: 60_000, signal: ac.signal });
    ac.abort();
    expect((await wait).programmed).toBe(false);
  });

  it('looks only at the node that answered: a thousand answers do not re-read the fleet a thousand times', async () => {
    const f = fakeFleet(Array.from({ length: 1_000 }, (_, i) => node(`n-${i}`, 1)));
    const wait = waitProgrammed({ source: f.source, revision: 5, timeoutMs: 10_000 });
    for (let i = 0; i < 1_000; i++) f.report(`n-${i}`, 5);
    const j = await wait;
    expect(j.programmed).toBe(true);
    // The first judgement, the one when the last node was in, the answer.
    expect(f.fullReads).toBeLessThanOrEqual(3);
  });

  it('waits for a Ready node that appears behind during the wait, not for one that goes NotReady or is forgotten', async () => {
    const f = fakeFleet([node('a', 1), node('b', 1), node('c', 1)]);
    let resolved = false;
    const wait = waitProgrammed({ source: f.source, revision: 3, timeoutMs: 10_000 }).then((j) => ((resolved = true), j));
    f.report('a', 3);
    f.report('late', 2);
    f.report('b', 1, 'NotReady');
    f.forget('c');
    await new Promise((r) => setTimeout(r, 20));
    expect(resolved).toBe(false);
    f.report('late', 3);
    const j = await wait;
    expect(j).toMatchObject({ programmed: true, pendingNodes: [] });
    expect(j.programmedNodes.map((n) => n.name).sort()).toEqual(['a', 'late']);
    expect(j.notReadyNodes.map((n) => n.name)).toEqual(['b']);
  });

  it('judges the whole fleet again after a relist', async () => {
    const f = fakeFleet([node('a', 1)]);
    const wait = waitProgrammed({ source: f.source, revision: 2, timeoutMs: 10_000 });
    // Changed without a per-node event (as after a relist of the bucket), then announced.
    f.source.node('a')!.programmedRevision = 2;
    f.relist();
    expect((await wait).programmed).toBe(true);
  });
});
