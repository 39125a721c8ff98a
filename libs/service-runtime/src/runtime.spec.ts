import { describe, expect, it } from 'vitest';
import { pino, type Logger } from 'pino';
import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import { levelForVerbosity } from './logger.js';
import { stopOnSignals } from './shutdown.js';

/** A pino logger writing JSON lines into an array. */
function capture(): { log: Logger; lines: () => Array<Record<string, unknown>> } {
  const out: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      out.push(String(chunk));
      cb();
    },
  });
  return { log: pino({ level: 'info' }, sink) as Logger, lines: () => out.join('').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) };
}

describe('levelForVerbosity', () => {
  it.each([
    [0, 'info'],
    [1, 'debug'],
    [3, 'debug'],
    [4, 'trace'],
    [10, 'trace'],
  ])('-v %i → %s', (v, level) => {
    expect(levelForVerbosity(v)).toBe(level);
  });
});

describe('stopOnSignals', () => {
  const waitFor = async (cond: () => boolean) => {
    for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  };

  /** A stand-in for the process: signals are emitted by the test, exits recorded. */
  const fakeProcess = () => {
    const emitter = new EventEmitter();
    const codes: number[] = [];
    return {
      codes,
      signal: (s: NodeJS.Signals) => emitter.emit(s, s),
      deps: { once: (s: NodeJS.Signals, l: (s: NodeJS.Signals) => void) => emitter.once(s, l), exit: (c: number) => void codes.push(c) },
    };
  };

  it('stops once on SIGTERM (a SIGINT that follows changes nothing) and exits 0', async () => {
    const { log, lines } = capture();
    const p = fakeProcess();
    let stops = 0;
    stopOnSignals(log, async () => void stops++, { deps: p.deps });
    p.signal('SIGTERM');
    p.signal('SIGINT');
    await waitFor(() => p.codes.length > 0);
    expect({ stops, codes: p.codes }).toEqual({ stops: 1, codes: [0] });
    expect(lines()).toHaveLength(1);
    expect(lines()[0]).toMatchObject({ msg: 'shutting down', signal: 'SIGTERM' });
  });

  it('exits 1 and logs the error when stopping fails', async () => {
    const { log, lines } = capture();
    const p = fakeProcess();
    stopOnSignals(log, () => Promise.reject(new Error('NATS drain timed out')), { deps: p.deps, message: 'stopping the store' });
    p.signal('SIGINT');
    await waitFor(() => p.codes.length > 0);
    expect(p.codes).toEqual([1]);
    expect(lines().map((l) => l.msg)).toEqual(['stopping the store', 'shutdown failed']);
    expect(JSON.stringify(lines()[1])).toContain('NATS drain timed out');
  });
});
