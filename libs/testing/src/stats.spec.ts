import { describe, expect, it } from 'vitest';
import { median, percentile, summarize } from './stats.js';

describe('percentile (nearest rank)', () => {
  const hundred = Array.from({ length: 100 }, (_, i) => 100 - i); // 100..1, unsorted on purpose
  const cases = [
    { name: 'p50 of 1..100', values: hundred, p: 50, expected: 50 },
    { name: 'p99 of 1..100', values: hundred, p: 99, expected: 99 },
    { name: 'p100 is the max', values: hundred, p: 100, expected: 100 },
    { name: 'p0 is the min', values: hundred, p: 0, expected: 1 },
    { name: 'single value', values: [7], p: 99, expected: 7 },
    { name: 'p50 of two', values: [10, 20], p: 50, expected: 10 },
  ];
  it.each(cases)('$name', ({ values, p, expected }) => {
    expect(percentile(values, p)).toBe(expected);
  });
  it('is NaN for an empty sample', () => {
    expect(percentile([], 50)).toBeNaN();
  });
});

describe('summarize', () => {
  it('reports count, percentiles, max and mean', () => {
    expect(summarize([1, 2, 3, 4])).toEqual({ count: 4, p50: 2, p90: 4, p99: 4, max: 4, mean: 2.5 });
  });
});

describe('median', () => {
  it('takes the middle value, or the mean of the middle two', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });
});
