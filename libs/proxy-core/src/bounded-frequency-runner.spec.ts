import { describe, expect, it } from 'vitest';
import { BoundedFrequencyRunner } from './bounded-frequency-runner.js';
import { FakeClock } from './clock.js';

function setup(params: { min: number; max: number; workMs?: number }) {
  const clock = new FakeClock(0);
  const runs: number[] = [];
  const runner = new BoundedFrequencyRunner({
    clock,
    minIntervalMs: params.min,
    maxIntervalMs: params.max,
    fn: async () => {
      runs.push(clock.now());
      if (params.workMs) await new Promise<void>((r) => clock.setTimeout(r, params.workMs!));
    },
  });
  return { clock, runs, runner };
}

describe('BoundedFrequencyRunner', () => {
  it('runs at the max interval when nothing is requested', async () => {
    const { clock, runs, runner } = setup({ min: 100, max: 1000 });
    runner.start();
    await clock.advance(3500);
    expect(runs).toEqual([1000, 2000, 3000]);
  });

  it('runs a request at once, then respects the min interval and coalesces', async () => {
    const { clock, runs, runner } = setup({ min: 100, max: 1000 });
    runner.start();
    runner.run();
    await clock.advance(0);
    expect(runs).toEqual([0]);
    for (let i = 0; i < 5; i++) {
      runner.run();
      await clock.advance(10);
    }
    await clock.advance(200);
    expect(runs).toEqual([0, 100]);
    await clock.advance(1000);
    expect(runs).toEqual([0, 100, 1100]);
  });

  it('gives a request made during a run its own run afterwards', async () => {
    const { clock, runs, runner } = setup({ min: 10, max: 1000, workMs: 50 });
    runner.start();
    runner.run();
    await clock.advance(20);
    runner.run();
    runner.run();
    await clock.advance(100);
    expect(runs).toEqual([0, 50]);
  });

  it('retryAfter schedules an earlier run but not before the min interval', async () => {
    const { clock, runs, runner } = setup({ min: 100, max: 10_000 });
    runner.start();
    runner.run();
    await clock.advance(0);
    runner.retryAfter(10);
    await clock.advance(99);
    expect(runs).toEqual([0]);
    await clock.advance(1);
    expect(runs).toEqual([0, 100]);
    runner.retryAfter(500);
    await clock.advance(600);
    expect(runs).toEqual([0, 100, 600]);
  });

  it('does nothing before start and after stop', async () => {
    const { clock, runs, runner } = setup({ min: 10, max: 100 });
    runner.run();
    await clock.advance(50);
    expect(runs).toEqual([]);
    runner.start();
    await clock.advance(0);
    expect(runs).toEqual([50]);
    await runner.stop();
    await clock.advance(1000);
    expect(runs).toEqual([50]);
  });

  it.each([
    { name: 'negative min', min: -1, max: 10 },
    { name: 'min above max', min: 20, max: 10 },
    { name: 'zero max', min: 0, max: 0 },
  ])('rejects invalid intervals: $name', ({ min, max }) => {
    expect(() => setup({ min, max })).toThrow(RangeError);
  });
});
