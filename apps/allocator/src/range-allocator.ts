import { ErrorCode, SvcnetError } from '@svcnet/model';
import { cryptoRandomBelow, pickFreeOffset, rangeFullError, type AllocationRange, type RandomBelow } from '@svcnet/ipam';
import type { AllocationRecord, AllocationStore } from '@svcnet/store';

/** Figures for GetStatus: decimal strings because an IPv6 range exceeds 2^53. */
export interface RangeUsage {
  size: bigint;
  used: bigint;
  free: bigint;
}

/** How many create-if-absent conflicts one request tolerates before giving up with ABORTED. */
const MAX_CONFLICTS = 256;

/**
 * Allocates values of one range (a ClusterIP CIDR or the NodePort range) in
 * one allocation bucket. Candidates come from the cache; the store's
 * create-if-absent decides. Values being written by this process are held in
 * `pending` so concurrent requests here never race each other.
 */
export class RangeAllocator {
  private readonly pending = new Set<string>();

  constructor(
    readonly range: AllocationRange,
    private readonly store: AllocationStore,
    private readonly random: RandomBelow = cryptoRandomBelow,
  ) {}

  /** True when the value lies in this range (throws on bad syntax). */
  contains(value: string, field: string): boolean {
    return this.range.offsetOf(value, field) !== undefined;
  }

  /** Allocates the requested value, or a random free one when `requested` is undefined. */
  async allocate(params: { owner: string; requested?: string; field: string }): Promise<AllocationRecord> {
    if (params.requested !== undefined) return this.allocateRequested(params.owner, params.requested, params.field);
    return this.allocateNext(params.owner);
  }

  /** Size, used and free, from the cache. */
  usage(): RangeUsage {
    let used = 0n;
    for (const r of this.store.records()) if (this.holds(r.value)) used++;
    return { size: this.range.size, used, free: this.range.size - used };
  }

  /** True for a value of this range; a foreign or corrupt key in the bucket is simply not ours. */
  private holds(value: string): boolean {
    try {
      return this.range.offsetOf(value, 'value') !== undefined;
    } catch {
      return false;
    }
  }

  /** Canonical text of a value inside the range, or undefined when outside. */
  private canonical(value: string, field: string): string | undefined {
    const offset = this.range.offsetOf(value, field);
    return offset === undefined ? undefined : this.range.valueAt(offset);
  }

  private alreadyAllocated(field: string): SvcnetError {
    const what = this.range.kind === 'NodePort' ? 'port' : 'IP';
    return new SvcnetError(ErrorCode.AlreadyExists, `provided ${what} is already allocated`, { field });
  }

  private async allocateRequested(owner: string, requested: string, field: string): Promise<AllocationRecord> {
    const value = this.canonical(requested, field);
    if (value === undefined) throw this.range.notInRange(requested, field);
    if (this.pending.has(value) || this.store.peek(value)) throw this.alreadyAllocated(field);
    this.pending.add(value);
    try {
      const result = await this.store.create(value, owner);
      if (!result.created) throw this.alreadyAllocated(field);
      return result.record;
    } finally {
      this.pending.delete(value);
    }
  }

  private async allocateNext(owner: string): Promise<AllocationRecord> {
    // Values another replica took under our nose: not yet in the cache, skip them this time.
    const lost = new Set<string>();
    for (let conflicts = 0; conflicts <= MAX_CONFLICTS; ) {
      const offset = pickFreeOffset({
        size: this.range.size,
        staticBandSize: this.range.staticBandSize,
        random: this.random,
        isTaken: (o) => {
          const v = this.range.valueAt(o);
          return this.pending.has(v) || lost.has(v) || this.store.peek(v) !== undefined;
        },
      });
      if (offset === undefined) throw rangeFullError(this.range);
      const value = this.range.valueAt(offset);
      this.pending.add(value);
      try {
        const result = await this.store.create(value, owner);
        if (result.created) return result.record;
      } finally {
        this.pending.delete(value);
      }
      lost.add(value);
      conflicts++;
    }
    throw new SvcnetError(ErrorCode.Aborted, `gave up after ${MAX_CONFLICTS} allocation conflicts in ${this.range.text}; retry`);
  }
}
