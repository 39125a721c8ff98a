import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from './duration.js';

describe('parseDuration (Go time.ParseDuration)', () => {
  const cases: { name: string; text: string; ms: number }[] = [
    { name: 'milliseconds', text: '100ms', ms: 100 },
    { name: 'seconds', text: '30s', ms: 30_000 },
    { name: 'minutes', text: '1m', ms: 60_000 },
    { name: 'hours', text: '2h', ms: 7_200_000 },
    { name: 'compound', text: '1m30s', ms: 90_000 },
    { name: 'compound three parts', text: '1h2m3s', ms: 3_723_000 },
    { name: 'fraction', text: '1.5s', ms: 1500 },
    { name: 'leading dot fraction', text: '.5s', ms: 500 },
    { name: 'microseconds', text: '1500us', ms: 1.5 },
    { name: 'micro sign', text: '2000µs', ms: 2 },
    { name: 'nanoseconds', text: '1000000ns', ms: 1 },
    { name: 'bare zero', text: '0', ms: 0 },
    { name: 'explicit plus', text: '+5s', ms: 5000 },
    { name: 'negative', text: '-1s', ms: -1000 },
    { name: 'surrounding spaces', text: ' 250ms ', ms: 250 },
  ];
  it.each(cases)('$name: $text', ({ text, ms }) => {
    expect(parseDuration(text)).toBeCloseTo(ms, 9);
  });

  const bad: { name: string; text: string }[] = [
    { name: 'empty', text: '' },
    { name: 'number without unit', text: '30' },
    { name: 'unknown unit', text: '3d' },
    { name: 'unit only', text: 's' },
    { name: 'trailing garbage', text: '1sx' },
    { name: 'space inside', text: '1 s' },
    { name: 'sign only', text: '-' },
  ];
  it.each(bad)('rejects $name ($text) with INVALID_ARGUMENT', ({ text }) => {
    expect(() => parseDuration(text, 'sync-period')).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', field: 'sync-period' }),
    );
  });
});

describe('formatDuration', () => {
  const cases = [
    { name: 'zero', ms: 0, text: '0s' },
    { name: 'sub-second', ms: 100, text: '100ms' },
    { name: 'seconds', ms: 30_000, text: '30s' },
    { name: 'minutes and seconds', ms: 90_000, text: '1m30s' },
    { name: 'hours', ms: 3_600_000, text: '1h0m0s' },
  ];
  it.each(cases)('$name', ({ ms, text }) => {
    expect(formatDuration(ms)).toBe(text);
    expect(parseDuration(text)).toBe(ms);
  });
});

describe('parseDuration with bareSeconds (kubectl --request-timeout, DNS TTLs)', () => {
  it('takes a bare number as seconds and every Go duration as before', () => {
    expect(parseDuration('30', 'request-timeout', { bareSeconds: true })).toBe(30_000);
    expect(parseDuration('1.5', 'request-timeout', { bareSeconds: true })).toBe(1500);
    expect(parseDuration('1m30s', 'request-timeout', { bareSeconds: true })).toBe(90_000);
    expect(() => parseDuration('30x', 'request-timeout', { bareSeconds: true })).toThrow(/request-timeout/);
    expect(() => parseDuration('30')).toThrow(/duration/);
  });
});
