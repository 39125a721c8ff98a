import { describe, expect, it } from 'vitest';
import { RoundRobinBalancer, endpointKey, type Endpoint } from './balancer.js';

class FakeClock {
  t = 1_000_000;
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

const A: Endpoint = { host: '10.1.0.2', port: 8080 };
const B: Endpoint = { host: '10.1.0.3', port: 8080 };
const C: Endpoint = { host: '10.1.0.4', port: 8080 };
const none = { kind: 'None' } as const;
const sticky = (timeoutSeconds: number) => ({ kind: 'ClientIP', timeoutSeconds }) as const;
const pick = (b: RoundRobinBalancer, client = '10.2.0.9', exclude?: string[]) => {
  const e = b.next('ns/svc:', client, exclude ? new Set(exclude) : undefined);
  return e ? endpointKey(e) : undefined;
};

describe('RoundRobinBalancer', () => {
  const cases = [
    {
      name: 'round-robin over endpoints in order',
      run: (b: RoundRobinBalancer) => {
        b.update('ns/svc:', [A, B, C], none);
        return [pick(b), pick(b), pick(b), pick(b)];
      },
      want: ['10.1.0.2:8080', '10.1.0.3:8080', '10.1.0.4:8080', '10.1.0.2:8080'],
    },
    {
      name: 'no endpoints → undefined',
      run: (b: RoundRobinBalancer) => {
        b.update('ns/svc:', [], none);
        return [pick(b)];
      },
      want: [undefined],
    },
    {
      name: 'unknown service → undefined',
      run: (b: RoundRobinBalancer) => [pick(b)],
      want: [undefined],
    },
    {
      name: 'same endpoint list keeps the position',
      run: (b: RoundRobinBalancer) => {
        b.update('ns/svc:', [A, B, C], none);
        const first = pick(b);
        b.update('ns/svc:', [A, B, C], none);
        return [first, pick(b)];
      },
      want: ['10.1.0.2:8080', '10.1.0.3:8080'],
    },
    {
      name: 'changed endpoint list applies to the next pick at once',
      run: (b: RoundRobinBalancer) => {
        b.update('ns/svc:', [A, B], none);
        const first = pick(b);
        b.update('ns/svc:', [C], none);
        return [first, pick(b), pick(b)];
      },
      want: ['10.1.0.2:8080', '10.1.0.4:8080', '10.1.0.4:8080'],
    },
    {
      name: 'removed service forgets everything',
      run: (b: RoundRobinBalancer) => {
        b.update('ns/svc:', [A], none);
        b.remove('ns/svc:');
        return [pick(b)];
      },
      want: [undefined],
    },
  ];
  for (const c of cases) {
    it(c.name, () => expect(c.run(new RoundRobinBalancer({ clock: new FakeClock() }))).toEqual(c.want));
  }
});

describe('RoundRobinBalancer ClientIP affinity', () => {
  it('keeps a client on its endpoint while others rotate', () => {
    const b = new RoundRobinBalancer({ clock: new FakeClock() });
    b.update('ns/svc:', [A, B, C], sticky(60));
    const c1 = pick(b, 'c1');
    const c2 = pick(b, 'c2');
    expect(c1).not.toBe(c2);
    expect([pick(b, 'c1'), pick(b, 'c1'), pick(b, 'c2')]).toEqual([c1, c1, c2]);
  });

  const expiry = [
    { name: 'within timeout stays', advanceMs: 59_999, stays: true },
    { name: 'exactly at timeout moves on', advanceMs: 60_000, stays: false },
    { name: 'after timeout moves on', advanceMs: 120_000, stays: false },
  ];
  for (const c of expiry) {
    it(`expiry: ${c.name}`, () => {
      const clock = new FakeClock();
      const b = new RoundRobinBalancer({ clock });
      b.update('ns/svc:', [A, B], sticky(60));
      const first = pick(b, 'c1');
      clock.advance(c.advanceMs);
      expect(pick(b, 'c1') === first).toBe(c.stays);
    });
  }

  it('each use refreshes the timeout (sliding window)', () => {
    const clock = new FakeClock();
    const b = new RoundRobinBalancer({ clock });
    b.update('ns/svc:', [A, B], sticky(10));
    const first = pick(b, 'c1');
    for (let i = 0; i < 5; i++) {
      clock.advance(9_000);
      expect(pick(b, 'c1')).toBe(first);
    }
  });

  it('a retry after a failed dial skips the sticky endpoint', () => {
    const b = new RoundRobinBalancer({ clock: new FakeClock() });
    b.update('ns/svc:', [A, B], sticky(60));
    const first = pick(b, 'c1');
    const retry = pick(b, 'c1', [first!]);
    expect(retry).not.toBe(first);
    expect(pick(b, 'c1')).toBe(retry);
  });

  const retryCases = [
    { name: 'skips tried endpoints even when the cursor points at one', cursorMoves: 0, exclude: ['10.1.0.2:8080'], want: '10.1.0.3:8080' },
    { name: 'skips several tried endpoints', cursorMoves: 0, exclude: ['10.1.0.2:8080', '10.1.0.3:8080'], want: '10.1.0.4:8080' },
    { name: 'wraps around the list', cursorMoves: 2, exclude: ['10.1.0.4:8080'], want: '10.1.0.2:8080' },
    { name: 'all tried: plain round-robin', cursorMoves: 1, exclude: ['10.1.0.2:8080', '10.1.0.3:8080', '10.1.0.4:8080'], want: '10.1.0.3:8080' },
  ];
  for (const c of retryCases) {
    it(`retry: ${c.name}`, () => {
      const b = new RoundRobinBalancer({ clock: new FakeClock() });
      b.update('ns/svc:', [A, B, C], { kind: 'None' });
      for (let i = 0; i < c.cursorMoves; i++) pick(b, 'other');
      expect(pick(b, 'c1', c.exclude)).toBe(c.want);
    });
  }

  it('affinity to a removed endpoint is dropped', () => {
    const b = new RoundRobinBalancer({ clock: new FakeClock() });
    b.update('ns/svc:', [A, B], sticky(60));
    expect(pick(b, 'c1')).toBe('10.1.0.2:8080');
    b.update('ns/svc:', [B, C], sticky(60));
    expect(b.affinityCount('ns/svc:')).toBe(0);
    expect(pick(b, 'c1')).toBe('10.1.0.3:8080');
  });

  it('switching affinity off forgets records', () => {
    const b = new RoundRobinBalancer({ clock: new FakeClock() });
    b.update('ns/svc:', [A, B], sticky(60));
    pick(b, 'c1');
    b.update('ns/svc:', [A, B], none);
    expect(b.affinityCount('ns/svc:')).toBe(0);
  });

  it('pruneExpired drops only expired records', () => {
    const clock = new FakeClock();
    const b = new RoundRobinBalancer({ clock });
    b.update('ns/svc:', [A, B], sticky(10));
    pick(b, 'old');
    clock.advance(6_000);
    pick(b, 'new');
    clock.advance(5_000);
    expect(b.pruneExpired()).toBe(1);
    expect(b.affinityCount('ns/svc:')).toBe(1);
  });
});
