import { describe, expect, it } from 'vitest';
import { nodeCondition, validateNodeName } from './node-status.js';

describe('nodeCondition', () => {
  const heardAt = new Date('2026-12-03T10:00:00Z');
  const cases = [
    { name: 'just reported', intervalMs: 10_000, ageMs: 0, want: 'Ready' },
    { name: 'two beats missed', intervalMs: 10_000, ageMs: 20_000, want: 'Ready' },
    { name: 'exactly three intervals old is still Ready', intervalMs: 10_000, ageMs: 30_000, want: 'Ready' },
    { name: 'three beats missed', intervalMs: 10_000, ageMs: 30_001, want: 'NotReady' },
    { name: 'a short interval judges quickly', intervalMs: 1_000, ageMs: 3_500, want: 'NotReady' },
    { name: 'a zero interval (damaged record) cannot divide by zero', intervalMs: 0, ageMs: 5, want: 'NotReady' },
    { name: 'a clock ahead of the reader counts as just reported', intervalMs: 1_000, ageMs: -5_000, want: 'Ready' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const now = new Date(heardAt.getTime() + c.ageMs);
      expect(nodeCondition({ heartbeatIntervalMs: c.intervalMs, heardAt, now })).toBe(c.want);
    });
  }
});

describe('validateNodeName', () => {
  const cases = [
    { name: 'a short name', value: 'node1', ok: true },
    { name: 'a fully qualified name', value: 'node-1.rack-2.example.com', ok: true },
    { name: 'upper case is refused (kube lowercases host names)', value: 'Node1', ok: false },
    { name: 'a NATS wildcard is refused', value: 'node*', ok: false },
    { name: 'an empty token is refused', value: 'a..b', ok: false },
    { name: 'empty is refused', value: '', ok: false },
  ];
  for (const c of cases) {
    it(c.name, () => {
      if (c.ok) expect(() => validateNodeName(c.value)).not.toThrow();
      else expect(() => validateNodeName(c.value)).toThrow(/node-name/);
    });
  }
});
