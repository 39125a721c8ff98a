import { describe, expect, it } from 'vitest';
import { clusterIpStaticBandSize, cryptoRandomBelow, nodePortStaticBandSize, pickFreeOffset } from './bands.js';

describe('clusterIpStaticBandSize (KEP-3070: min(max(16, size/16), 256))', () => {
  const cases = [
    { name: '/29 (8) has no static band', size: 8n, band: 0n },
    { name: '/28 (16) gets the minimum', size: 16n, band: 16n },
    { name: '/24 (256)', size: 256n, band: 16n },
    { name: '/20 (4096)', size: 4096n, band: 256n },
    { name: '/22 (1024) → 64', size: 1024n, band: 64n },
    { name: '/12 capped', size: 1n << 20n, band: 256n },
    { name: 'ipv6 /64 capped', size: 1n << 64n, band: 256n },
  ];
  it.each(cases)('$name', ({ size, band }) => expect(clusterIpStaticBandSize(size)).toBe(band));
});

describe('nodePortStaticBandSize (KEP-3668: min(max(16, size/32), 128))', () => {
  const cases = [
    { name: '16 ports have no static band', size: 16n, band: 0n },
    { name: '17 ports get the minimum', size: 17n, band: 16n },
    { name: 'default 30000-32767 (2768)', size: 2768n, band: 86n },
    { name: 'large range capped', size: 35536n, band: 128n },
  ];
  it.each(cases)('$name', ({ size, band }) => expect(nodePortStaticBandSize(size)).toBe(band));
});

/** A deterministic "random" that always returns the same fraction of the bound. */
const fixed = (fraction: number) => (bound: bigint) => (bound * BigInt(Math.round(fraction * 1000))) / 1000n;

describe('pickFreeOffset', () => {
  const cases = [
    { name: 'empty range picks in the upper band', size: 100n, band: 10n, taken: [] as bigint[], random: fixed(0), want: 10n },
    { name: 'random start inside the upper band', size: 100n, band: 10n, taken: [], random: fixed(0.5), want: 55n },
    { name: 'scans forward past taken values', size: 100n, band: 10n, taken: [55n, 56n], random: fixed(0.5), want: 57n },
    { name: 'wraps to the start of the upper band', size: 100n, band: 10n, taken: [99n], random: fixed(0.999), want: 10n },
    {
      name: 'falls back to the static band when the upper band is full',
      size: 20n,
      band: 10n,
      taken: [10n, 11n, 12n, 13n, 14n, 15n, 16n, 17n, 18n, 19n],
      random: fixed(0.5),
      want: 5n,
    },
    { name: 'full range gives undefined', size: 3n, band: 0n, taken: [0n, 1n, 2n], random: fixed(0), want: undefined },
    { name: 'band larger than range: everything is static', size: 14n, band: 16n, taken: [], random: fixed(0), want: 0n },
    { name: 'huge ipv6 range is not enumerated', size: 1n << 64n, band: 256n, taken: [], random: fixed(0.25), want: 256n + ((1n << 64n) - 256n) / 4n },
  ];
  it.each(cases)('$name', ({ size, band, taken, random, want }) => {
    const set = new Set(taken);
    let checks = 0;
    const got = pickFreeOffset({ size, staticBandSize: band, random, isTaken: (o) => (checks++, set.has(o)) });
    expect(got).toBe(want);
    expect(checks).toBeLessThanOrEqual(taken.length + 1);
  });
});

describe('cryptoRandomBelow', () => {
  const cases = [
    { name: 'bound 1', bound: 1n },
    { name: 'small', bound: 7n },
    { name: 'just above 48 bits', bound: (1n << 48n) + 3n },
    { name: '2^64', bound: 1n << 64n },
    { name: '2^127', bound: 1n << 127n },
  ];
  it.each(cases)('$name stays in [0, bound)', ({ bound }) => {
    for (let i = 0; i < 200; i++) {
      const v = cryptoRandomBelow(bound);
      expect(v >= 0n && v < bound).toBe(true);
    }
  });
  it('rejects a non-positive bound', () => expect(() => cryptoRandomBelow(0n)).toThrow(RangeError));
  it('spreads over a huge range (top half hit about half the time)', () => {
    const bound = 1n << 64n;
    let high = 0;
    for (let i = 0; i < 400; i++) if (cryptoRandomBelow(bound) >= bound / 2n) high++;
    expect(high).toBeGreaterThan(120);
    expect(high).toBeLessThan(280);
  });
});
