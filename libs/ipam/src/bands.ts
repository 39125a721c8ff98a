import { randomBytes, randomInt } from 'node:crypto';

/** Returns a uniformly random bigint in [0, bound). Injected so tests are deterministic. */
export type RandomBelow = (bound: bigint) => bigint;

/** Cryptographic randomness; 64 extra bits make the modulo bias negligible for any bound. */
export const cryptoRandomBelow: RandomBelow = (bound) => {
  if (bound <= 0n) throw new RangeError('bound must be positive');
  if (bound <= 0xffffffffffffn) return BigInt(randomInt(Number(bound)));
  const bytes = Math.ceil(bound.toString(2).length / 8) + 8;
  return BigInt(`0x${randomBytes(bytes).toString('hex')}`) % bound;
};

function clampedBand(size: bigint, min: bigint, step: bigint, max: bigint): bigint {
  const offset = size / step;
  if (offset < min) return min;
  if (offset > max) return max;
  return offset;
}

/**
 * Size of the static (lower) band of a ClusterIP range, from the CIDR's total
 * size: `min(max(16, size/16), 256)`, none below 16 addresses (KEP-3070).
 */
export function clusterIpStaticBandSize(cidrTotalSize: bigint): bigint {
  if (cidrTotalSize < 16n) return 0n;
  return clampedBand(cidrTotalSize, 16n, 16n, 256n);
}

/**
 * Size of the static (lower) band of a NodePort range:
 * `min(max(16, size/32), 128)`, none for 16 ports or fewer (KEP-3668).
 */
export function nodePortStaticBandSize(rangeSize: bigint): bigint {
  if (rangeSize <= 16n) return 0n;
  return clampedBand(rangeSize, 16n, 32n, 128n);
}

/** What `pickFreeOffset` needs: the range shape, the view of what is taken, and randomness. */
export interface PickFreeOffsetParams {
  /** Allocatable values, indexed 0..size-1. */
  size: bigint;
  /** The first `staticBandSize` offsets are used only when the rest is full. */
  staticBandSize: bigint;
  isTaken(offset: bigint): boolean;
  random: RandomBelow;
}

/**
 * Picks a free offset: a random start in the upper (dynamic) band, scanning
 * forward with wrap-around, then the same in the lower (static) band. Never
 * enumerates a range: a scan stops at the first free offset, so it costs at
 * most (values taken in the band + 1) steps even in a /64.
 */
export function pickFreeOffset(params: PickFreeOffsetParams): bigint | undefined {
  const staticBand = params.staticBandSize < params.size ? params.staticBandSize : params.size;
  const bands: Array<[bigint, bigint]> = [
    [staticBand, params.size],
    [0n, staticBand],
  ];
  for (const [low, high] of bands) {
    const bandSize = high - low;
    if (bandSize <= 0n) continue;
    const start = params.random(bandSize);
    for (let i = 0n; i < bandSize; i++) {
      const candidate = low + ((start + i) % bandSize);
      if (!params.isTaken(candidate)) return candidate;
    }
  }
  return undefined;
}
