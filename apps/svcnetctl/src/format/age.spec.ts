import { describe, expect, it } from 'vitest';
import { formatAge, humanDuration } from './age.js';

const s = 1000;
const m = 60 * s;
const h = 60 * m;
const d = 24 * h;

describe('humanDuration (kubectl AGE)', () => {
  const cases: { name: string; ms: number; want: string }[] = [
    { name: 'clock skew of 1 s reads as now', ms: -1500, want: '0s' },
    { name: 'larger skew is invalid', ms: -2 * s, want: '<invalid>' },
    { name: 'zero', ms: 0, want: '0s' },
    { name: 'seconds', ms: 5 * s + 999, want: '5s' },
    { name: 'seconds up to two minutes', ms: 119 * s, want: '119s' },
    { name: 'two minutes', ms: 2 * m, want: '2m' },
    { name: 'minutes and seconds under ten minutes', ms: 2 * m + 30 * s, want: '2m30s' },
    { name: 'minutes only from ten minutes', ms: 10 * m + 30 * s, want: '10m' },
    { name: 'minutes up to three hours', ms: 179 * m, want: '179m' },
    { name: 'hours and minutes under eight hours', ms: 3 * h + 5 * m, want: '3h5m' },
    { name: 'whole hours', ms: 5 * h, want: '5h' },
    { name: 'hours up to two days', ms: 47 * h + 59 * m, want: '47h' },
    { name: 'days and hours under eight days', ms: 3 * d + 4 * h, want: '3d4h' },
    { name: 'whole days', ms: 3 * d, want: '3d' },
    { name: 'days up to two years', ms: 400 * d, want: '400d' },
    { name: 'years and days under eight years', ms: 2 * 365 * d + 45 * d, want: '2y45d' },
    { name: 'years', ms: 9 * 365 * d + 3 * d, want: '9y' },
  ];
  it.each(cases)('$name', ({ ms, want }) => {
    expect(humanDuration(ms)).toBe(want);
  });

  it('formatAge without a timestamp is <unknown>', () => {
    expect(formatAge(undefined, new Date())).toBe('<unknown>');
    expect(formatAge(new Date('2026-01-01T00:00:00Z'), new Date('2026-01-01T00:00:42Z'))).toBe('42s');
  });
});
