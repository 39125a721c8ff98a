import type { Logger } from 'pino';
import { parseObjectKey } from '@svcnet/model';
import type { ObjectKey } from '@svcnet/model';
import type { FeedEntry } from './kv-feed.js';

/** What a watcher reports. Handlers run synchronously, in revision order. */
export interface WatchHandlers<T> {
  onUpsert(obj: T, meta: { key: string; revision: number }): void;
  onDelete(key: ObjectKey, meta: { key: string; revision: number; last?: T }): void;
  /** After the initial list, and again after every full resync. */
  onSynced(): void;
  /**
   * A value under one of the kind's keys cannot be decoded. The cache keeps the
   * last good object (if any); the watcher's `broken()` has the record.
   */
  onUndecodable?(key: string, record: UndecodableRecord): void;
}

/** A key whose current value cannot be decoded. */
export interface UndecodableRecord {
  revision: number;
  error: string;
}

/** Stamps the store revision into `metadata.resourceVersion` when the object has one. */
function stampRevision<T>(obj: T, revision: number): T {
  const meta = (obj as { metadata?: { resourceVersion?: unknown } } | null)?.metadata;
  if (meta && typeof meta === 'object' && 'resourceVersion' in meta) meta.resourceVersion = revision;
  return obj;
}

/**
 * The typed cache behind a watcher of one kind: decodes records, skips those
 * already applied, reports undecodable values once per revision, and tells
 * the handlers. Shared by KindWatcher (one consumer per kind) and KindFeed
 * (one FleetFeed for several kinds).
 */
export class KindCache<T> {
  private readonly cache = new Map<string, T>();
  private readonly revisions = new Map<string, number>();
  private readonly brokenKeys = new Map<string, UndecodableRecord>();
  /** Values skipped because they could not be decoded. */
  decodeErrors = 0;

  constructor(
    private readonly codec: { decode(b: Uint8Array): T },
    private readonly handlers: WatchHandlers<T>,
    private readonly logger: Logger,
  ) {}

  snapshot(): ReadonlyMap<string, T> {
    return this.cache;
  }

  broken(): ReadonlyMap<string, UndecodableRecord> {
    return this.brokenKeys;
  }

  keys(): IterableIterator<string> {
    return this.cache.keys();
  }

  has(key: string): boolean {
    return this.cache.has(key);
  }

  /** The revision of the cached value of a key, if any. */
  revisionOf(key: string): number | undefined {
    return this.revisions.get(key);
  }

  /** Applies one record (PUT: decode and upsert; DEL/PURGE: remove). */
  apply(e: FeedEntry): void {
    if (e.operation !== 'PUT') {
      this.brokenKeys.delete(e.key);
      if (this.cache.has(e.key)) this.remove(e.key, e.revision);
      return;
    }
    if (this.revisions.get(e.key) === e.revision) return;
    let obj: T;
    try {
      obj = stampRevision(this.codec.decode(e.value), e.revision);
    } catch (err) {
      const known = this.brokenKeys.get(e.key);
      if (known?.revision === e.revision) return; // listed again after a resync: already reported
      this.decodeErrors++;
      const record = { revision: e.revision, error: (err instanceof Error ? err.message : String(err)).slice(0, 200) };
      this.brokenKeys.set(e.key, record);
      // One line per key and revision: a damaged record is reported, not repeated on every resync.
      this.logger.error({ key: e.key, revision: e.revision, err: record.error }, 'undecodable value in the state bucket; skipped');
      const onUndecodable = this.handlers.onUndecodable?.bind(this.handlers);
      if (onUndecodable) this.safely('onUndecodable', () => onUndecodable(e.key, record));
      return;
    }
    this.brokenKeys.delete(e.key);
    this.cache.set(e.key, obj);
    this.revisions.set(e.key, e.revision);
    this.safely('onUpsert', () => this.handlers.onUpsert(obj, { key: e.key, revision: e.revision }));
  }

  /** Removes a key (a synthesized delete after a full list did not see it). */
  remove(key: string, revision: number): void {
    const last = this.cache.get(key);
    this.cache.delete(key);
    this.revisions.delete(key);
    const parsed = parseObjectKey(key);
    if (!parsed) return;
    this.safely('onDelete', () => this.handlers.onDelete(parsed, { key, revision, ...(last !== undefined ? { last } : {}) }));
  }

  /** After a full list: keys not seen are gone (broken ones too). */
  retainOnly(seen: { has(key: string): boolean }, revision: number): void {
    for (const key of [...this.cache.keys()]) if (!seen.has(key)) this.remove(key, revision);
    for (const key of [...this.brokenKeys.keys()]) if (!seen.has(key)) this.brokenKeys.delete(key);
  }

  synced(): void {
    this.safely('onSynced', () => this.handlers.onSynced());
  }

  /** A throwing handler is the caller's bug: report it loudly, keep the feed alive. */
  private safely(handler: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.logger.error({ err, handler }, 'watch handler threw');
    }
  }
}
