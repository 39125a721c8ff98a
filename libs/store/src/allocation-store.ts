import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import type { KV, KvEntry } from '@nats-io/kv';
import { ErrorCode, SvcnetError } from '@svcnet/model';
import { StoreConfigError, type StoreConnection } from './connection.js';
import {
  allocationKey,
  allocationValue,
  decodeAllocation,
  encodeAllocation,
  type AllocationRecord,
} from './allocation-keys.js';

/** How to open one allocation bucket. */
export interface OpenAllocationStoreParams {
  connection: StoreConnection;
  bucket: string;
  /** Stream replicas (3 on a NATS cluster). Default 1. */
  replicas?: number;
  /**
   * KV requests in flight at once; more wait in a queue. Keeps the store
   * timeout about NATS, not about a burst queued behind itself; JetStream
   * also acks faster with fewer publishes outstanding. Default 32.
   */
  maxInFlight?: number;
  /** Called when the watch breaks (it restarts by itself); for logging. */
  onWatchError?: (err: unknown) => void;
  /** Injected clock for allocatedAt. */
  now?: () => Date;
}

/** Outcome of a create-if-absent. */
export type CreateResult = { created: true; record: AllocationRecord } | { created: false };

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A counting semaphore: at most `limit` holders, FIFO waiters. */
class InFlightLimit {
  private active = 0;
  private readonly waiters: Array<() => void> = [];
  constructor(private readonly limit: number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiters.push(resolve));
    else this.active++;
    try {
      return await fn();
    } finally {
      const next = this.waiters.shift();
      if (next) next();
      else this.active--;
    }
  }
}

function isWrongLastSequence(err: unknown): boolean {
  return (
    err instanceof JetStreamApiError &&
    (err.code === JetStreamApiCodes.StreamWrongLastSequence ||
      err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}

/** Maps a NATS failure to UNAVAILABLE (transient) or INTERNAL (a real API error). */
export function allocationStoreError(err: unknown): SvcnetError {
  if (err instanceof SvcnetError) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof JetStreamApiError && err.status !== 503) {
    return new SvcnetError(ErrorCode.Internal, `allocation store: ${message}`, { cause: err });
  }
  return new SvcnetError(ErrorCode.Unavailable, `allocation store unavailable: ${message}`, { cause: err });
}

/**
 * One allocation bucket: create-if-absent decides every race (several
 * allocator replicas may write at once); the in-memory view, kept by a KV
 * watch, is only a cache used to pick candidates and to answer status/list.
 * While NATS is disconnected every call fails at once with UNAVAILABLE.
 */
export class AllocationStore {
  private readonly cache = new Map<string, AllocationRecord>();
  /** Values released here, with the released revision: older PUTs still in the watch must not resurrect them. */
  private readonly released = new Map<string, number>();
  private connected = true;
  private closed = false;
  private stopWatch: (() => void) | undefined;
  private highestRevisionSeen = 0;
  private readonly limit: InFlightLimit;

  private constructor(
    private readonly kv: KV,
    private readonly params: OpenAllocationStoreParams,
  ) {
    this.limit = new InFlightLimit(params.maxInFlight ?? 32);
  }

  /** Opens (creating if needed) the bucket and resolves once the cache holds everything already stored. */
  static async open(params: OpenAllocationStoreParams): Promise<AllocationStore> {
    let kv: KV;
    try {
      kv = await params.connection.bucket(params.bucket, { history: 1, replicas: params.replicas ?? 1 });
    } catch (err) {
      if (err instanceof StoreConfigError) throw err;
      throw allocationStoreError(err);
    }
    const store = new AllocationStore(kv, params);
    store.trackConnection();
    await store.startWatch();
    return store;
  }

  /** True while connected to NATS. */
  get available(): boolean {
    return this.connected && !this.closed;
  }

  /** The cached record of a value, if any. */
  peek(value: string): AllocationRecord | undefined {
    return this.cache.get(value);
  }

  /** Every cached record. */
  records(): IterableIterator<AllocationRecord> {
    return this.cache.values();
  }

  /** Writes value → owner only if the key is absent (or deleted). `created: false` means someone holds it. */
  async create(value: string, owner: string): Promise<CreateResult> {
    this.assertAvailable();
    const allocatedAt = this.params.now?.() ?? new Date();
    try {
      const revision = await this.limit.run(() => {
        // Checked again after the queue: NATS may have gone away meanwhile.
        this.assertAvailable();
        return this.kv.create(allocationKey(value), encodeAllocation(owner, allocatedAt));
      });
      const record = { value, owner, allocatedAt, revision };
      this.remember(record);
      return { created: true, record };
    } catch (err) {
      if (isWrongLastSequence(err)) return { created: false };
      // A timed-out write may still have landed: if the key now holds exactly this write, it is ours.
      const landed = await this.read(value).catch(() => undefined);
      if (landed && landed.owner === owner && landed.allocatedAt.getTime() === allocatedAt.getTime()) {
        return { created: true, record: landed };
      }
      throw allocationStoreError(err);
    }
  }

  /** Reads a value from the store itself (not the cache). */
  async read(value: string): Promise<AllocationRecord | undefined> {
    this.assertAvailable();
    let entry: KvEntry | null;
    try {
      entry = await this.limit.run(() => {
        this.assertAvailable();
        return this.kv.get(allocationKey(value));
      });
    } catch (err) {
      throw allocationStoreError(err);
    }
    if (!entry || entry.operation !== 'PUT') return undefined;
    const record = decodeAllocation(value, entry.revision, entry.value);
    this.remember(record);
    return record;
  }

  /**
   * Deletes the value if `owner` holds it (CAS on the revision read). Returns
   * false when nothing was allocated; refuses another owner's allocation.
   */
  async release(value: string, owner: string, field: string): Promise<boolean> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const record = await this.read(value);
      if (!record) {
        this.forget(value, this.cache.get(value)?.revision ?? 0);
        return false;
      }
      if (record.owner !== owner) {
        throw new SvcnetError(
          ErrorCode.FailedPrecondition,
          `${value} is allocated to ${record.owner}, not to ${owner}: only the owner can release it`,
          { field },
        );
      }
      try {
        await this.limit.run(() => {
          this.assertAvailable();
          return this.kv.delete(allocationKey(value), { previousSeq: record.revision });
        });
        this.forget(value, record.revision);
        return true;
      } catch (err) {
        if (!isWrongLastSequence(err)) throw allocationStoreError(err);
      }
    }
    throw new SvcnetError(ErrorCode.Aborted, `${value} kept changing during release; retry`, { field });
  }

  /** Stops the watch; the connection belongs to the caller. */
  close(): void {
    this.closed = true;
    this.stopWatch?.();
  }

  private assertAvailable(): void {
    if (!this.available) {
      throw new SvcnetError(ErrorCode.Unavailable, 'allocation store unavailable: not connected to NATS');
    }
  }

  private remember(record: AllocationRecord): void {
    const current = this.cache.get(record.value);
    if (current && current.revision >= record.revision) return;
    const releasedAt = this.released.get(record.value);
    if (releasedAt !== undefined && releasedAt >= record.revision) return;
    this.cache.set(record.value, record);
  }

  private forget(value: string, revision: number): void {
    const current = this.cache.get(value);
    if (current && current.revision > revision) return;
    this.cache.delete(value);
    this.released.set(value, Math.max(revision, this.released.get(value) ?? 0));
  }

  private apply(entry: KvEntry): void {
    this.highestRevisionSeen = Math.max(this.highestRevisionSeen, entry.revision);
    const value = allocationValue(entry.key);
    if (entry.operation === 'PUT') {
      // Our own writes come back through the watch: skip the decode when the cache already has them.
      if ((this.cache.get(value)?.revision ?? 0) >= entry.revision) return;
      this.remember(decodeAllocation(value, entry.revision, entry.value));
      return;
    }
    const current = this.cache.get(value);
    if (current && current.revision > entry.revision) return;
    this.cache.delete(value);
    this.released.delete(value);
  }

  private trackConnection(): void {
    const nc = this.params.connection.nc;
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect') this.connected = false;
        if (s.type === 'reconnect') {
          this.connected = true;
          // The old watch may have missed updates while NATS was away: start a fresh one.
          this.stopWatch?.();
        }
      }
    })().catch((err: unknown) => this.params.onWatchError?.(err));
    void nc.closed().then(() => {
      this.connected = false;
    });
  }

  /** Watches the bucket (last value per key, deletes included) forever; resolves once caught up. */
  private async startWatch(): Promise<void> {
    const status = await this.kv.status().catch((err: unknown) => {
      throw allocationStoreError(err);
    });
    const caughtUpAt = status.streamInfo.state.last_seq;
    let caughtUp: () => void = () => undefined;
    const ready = new Promise<void>((resolve) => (caughtUp = resolve));
    if (caughtUpAt <= this.highestRevisionSeen) caughtUp();
    void (async () => {
      while (!this.closed) {
        try {
          const iterator = await this.kv.watch();
          this.stopWatch = () => iterator.stop();
          if (this.closed) iterator.stop();
          for await (const entry of iterator) {
            this.apply(entry);
            if (this.highestRevisionSeen >= caughtUpAt) caughtUp();
          }
        } catch (err) {
          this.params.onWatchError?.(err);
        }
        if (!this.closed) await sleep(250);
      }
    })();
    await ready;
  }
}
