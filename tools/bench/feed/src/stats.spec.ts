import { describe, expect, it } from 'vitest';
import { percentile, summarize } from './stats.js';

describe('percentile', () => {
  const cases = [
    { name: 'p50 of 1..100', sample: Array.from({ length: 100 }, (_, i) => i + 1), p: 50, want: 50 },
    { name: 'p99 of 1..100', sample: Array.from({ length: 100 }, (_, i) => i + 1), p: 99, want: 99 },
    { name: 'p100 is the max', sample: [3, 1, 2].sort(), p: 100, want: 3 },
    { name: 'single value', sample: [7], p: 99, want: 7 },
  ];
  for (const c of cases) it(c.name, () => expect(percentile(c.sample, c.p)).toBe(c.want));
  it('summarizes unsorted samples', () => expect(summarize([5, 1, 9, 3])).toEqual({ n: 4, p50: 3, p99: 9, max: 9 }));
});
