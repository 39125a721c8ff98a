import { describe, expect, it } from 'vitest';
import { SvcnetError } from '@svcnet/model';
import { validateIpvsScheduler } from './scheduler.js';

describe('validateIpvsScheduler', () => {
  const cases = [
    { name: 'default when unset', value: undefined, expected: 'rr' },
    { name: 'default when empty', value: '', expected: 'rr' },
    ...['rr', 'lc', 'wrr', 'sh', 'dh', 'sed', 'nq', 'mh'].map((s) => ({ name: `accepts ${s}`, value: s, expected: s })),
    { name: 'rejects wlc (not offered)', value: 'wlc', expected: undefined },
    { name: 'rejects garbage', value: 'round-robin', expected: undefined },
    { name: 'rejects prototype keys', value: 'toString', expected: undefined },
  ];
  for (const c of cases) {
    it(c.name, () => {
      if (c.expected) {
        expect(validateIpvsScheduler(c.value)).toBe(c.expected);
      } else {
        const err = (() => {
          try {
            validateIpvsScheduler(c.value);
          } catch (e) {
            return e;
          }
          return undefined;
        })();
        expect(err).toBeInstanceOf(SvcnetError);
        expect((err as SvcnetError).code).toBe('INVALID_ARGUMENT');
        expect((err as SvcnetError).field).toBe('ipvs-scheduler');
        expect((err as SvcnetError).message).toMatch(/rr, lc, wrr, sh, dh, sed, nq, mh/);
      }
    });
  }
});
