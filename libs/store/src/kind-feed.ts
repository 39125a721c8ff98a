import type { Logger } from 'pino';
import { pino } from 'pino';
import { kindKeyFilter } from '@svcnet/model';
import type { ObjectKind } from '@svcnet/model';
import type { FeedBase } from './feed-snapshot.js';
import { KindCache, type UndecodableRecord, type WatchHandlers } from './kind-cache.js';
import type { FeedEntry } from './kv-feed.js';

export interface KindFeedParams<T> {
  kind: ObjectKind;
  codec: { decode(b: Uint8Array): T };
  handlers: WatchHandlers<T>;
  logger?: Logger;
}

/**
 * One kind's typed cache fed by a shared {@link FleetFeed}: the same handlers
 * and cache as a KindWatcher, without a consumer of its own. The owner of the
 * FleetFeed routes its callbacks here (`applyBase`, `applyChange`, `synced`).
 */
export class KindFeed<T> {
  readonly kind: ObjectKind;
  /** The key prefix of the kind (`services.`). */
  readonly prefix: string;
  private readonly cache: KindCache<T>;
  private lastRevision = 0;

  constructor(params: KindFeedParams<T>) {
    this.kind = params.kind;
    this.prefix = kindKeyFilter(params.kind).replace('*.*', '');
    const logger = (params.logger ?? pino({ level: 'silent' })).child({ component: 'watcher', kind: params.kind });
    this.cache = new KindCache<T>(params.codec, params.handlers, logger);
  }

  /** The highest revision applied to this kind. */
  get revision(): number {
    return this.lastRevision;
  }

  get decodeErrors(): number {
    return this.cache.decodeErrors;
  }

  snapshot(): ReadonlyMap<string, T> {
    return this.cache.snapshot();
  }

  broken(): ReadonlyMap<string, UndecodableRecord> {
    return this.cache.broken();
  }

  /** A complete state: upserts what changed, deletes what is gone (unchanged keys are not reported again). */
  applyBase(base: FeedBase): void {
    for (const [key, e] of base.records) {
      if (key.startsWith(this.prefix)) this.cache.apply(e);
    }
    this.cache.retainOnly({ has: (k) => base.records.has(k) }, base.revision);
    this.lastRevision = Math.max(this.lastRevision, base.revision);
  }

  /** One change; false when the key is not of this kind. */
  applyChange(e: FeedEntry): boolean {
    if (!e.key.startsWith(this.prefix)) return false;
    this.lastRevision = Math.max(this.lastRevision, e.revision);
    this.cache.apply(e);
    return true;
  }

  /** The feed is synced: tell the handlers. */
  synced(): void {
    this.cache.synced();
  }
}
