import { describe, expect, it } from 'vitest';
import { CowMap } from './cow-map.js';

describe('CowMap', () => {
  const base = CowMap.from(Array.from({ length: 5000 }, (_, i) => [`k${i}`, i] as const));

  it('holds what it was built from', () => {
    expect(base.size).toBe(5000);
    expect(base.get('k42')).toBe(42);
    expect(base.has('nope')).toBe(false);
    expect([...base].length).toBe(5000);
    expect(new Set(base.keys()).size).toBe(5000);
  });

  it.each([
    { name: 'set a new key', changes: [['new', 1]] as const, size: 5001, check: ['new', 1] as const },
    { name: 'overwrite a key', changes: [['k1', 100]] as const, size: 5000, check: ['k1', 100] as const },
    { name: 'delete a key', changes: [['k1', undefined]] as const, size: 4999, check: ['k1', undefined] as const },
    { name: 'delete a key that is not there', changes: [['zz', undefined]] as const, size: 5000, check: ['zz', undefined] as const },
    { name: 'set then delete in one go', changes: [['x', 1], ['x', undefined]] as const, size: 5000, check: ['x', undefined] as const },
  ])('with(): $name, leaving the original as it was', ({ changes, size, check }) => {
    const next = base.with(changes);
    expect(next.size).toBe(size);
    expect(next.get(check[0])).toBe(check[1]);
    expect([...next].length).toBe(size);
    expect(base.size).toBe(5000);
    expect(base.get('k1')).toBe(1);
    expect(base.has('new')).toBe(false);
  });

  it('a version after many edits equals a map built from scratch', () => {
    let m = CowMap.empty<number>();
    const ref = new Map<string, number>();
    for (let i = 0; i < 3000; i++) {
      const k = `key-${(i * 7919) % 1000}`;
      const v = i % 5 === 0 ? undefined : i;
      m = m.with([[k, v]]);
      if (v === undefined) ref.delete(k);
      else ref.set(k, v);
    }
    expect(m.size).toBe(ref.size);
    expect(new Map(m)).toEqual(ref);
  });
});
