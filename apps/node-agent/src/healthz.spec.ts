import { describe, expect, it } from 'vitest';
import { HealthTracker } from './healthz.js';

class TestClock {
  constructor(public t = 1_700_000_000_000) {}
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

type Step = { op: 'queued' | 'updated' } | { op: 'advance'; ms: number };

describe('HealthTracker (kube-proxy healthz semantics, timeout = 2 × sync period)', () => {
  const syncPeriod = 1000;
  const cases: { name: string; steps: Step[]; healthy: boolean }[] = [
    { name: 'fresh agent, nothing queued', steps: [], healthy: true },
    { name: 'start queued, first sync within timeout', steps: [{ op: 'queued' }, { op: 'advance', ms: 1999 }], healthy: true },
    { name: 'start queued, no sync beyond timeout', steps: [{ op: 'queued' }, { op: 'advance', ms: 2001 }], healthy: false },
    {
      name: 'synced, then idle periodic syncs keep it healthy',
      steps: [{ op: 'queued' }, { op: 'updated' }, { op: 'advance', ms: 1000 }, { op: 'updated' }, { op: 'advance', ms: 1900 }],
      healthy: true,
    },
    {
      name: 'synced, then syncs stop succeeding',
      steps: [{ op: 'queued' }, { op: 'updated' }, { op: 'advance', ms: 2500 }],
      healthy: false,
    },
    {
      name: 'change pending longer than timeout although an older sync was fine',
      steps: [{ op: 'updated' }, { op: 'advance', ms: 500 }, { op: 'queued' }, { op: 'advance', ms: 1000 }, { op: 'updated' }, { op: 'queued' }, { op: 'advance', ms: 2001 }],
      healthy: false,
    },
    {
      name: 'repeated queues keep the oldest pending time',
      steps: [{ op: 'updated' }, { op: 'queued' }, { op: 'advance', ms: 1500 }, { op: 'queued' }, { op: 'advance', ms: 600 }],
      healthy: false,
    },
    {
      name: 'a sync clears the pending change',
      steps: [{ op: 'queued' }, { op: 'advance', ms: 1900 }, { op: 'updated' }, { op: 'advance', ms: 1900 }],
      healthy: true,
    },
  ];

  it.each(cases)('$name', ({ steps, healthy }) => {
    const clock = new TestClock();
    const h = new HealthTracker({ clock, timeoutMs: 2 * syncPeriod, nodeName: 'node1' });
    for (const s of steps) {
      if (s.op === 'advance') clock.advance(s.ms);
      else h[s.op]();
    }
    const r = h.report();
    expect(r.healthy).toBe(healthy);
    expect(r.nodeName).toBe('node1');
    expect(r.currentTime).toBe(new Date(clock.t).toISOString());
  });

  it('reports lastUpdated as the time of the last successful sync', () => {
    const clock = new TestClock();
    const h = new HealthTracker({ clock, timeoutMs: 2000, nodeName: 'n' });
    expect(h.report().lastUpdated).toBe(new Date(0).toISOString());
    clock.advance(123);
    h.updated();
    const at = clock.t;
    clock.advance(500);
    expect(h.report().lastUpdated).toBe(new Date(at).toISOString());
    expect(h.report().oldestPendingChange).toBeUndefined();
    h.queued();
    expect(h.report().oldestPendingChange).toBe(new Date(clock.t).toISOString());
  });
});
