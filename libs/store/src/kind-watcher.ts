import { pino, type Logger } from 'pino';
import { kindKeyFilter, STATE_BUCKET } from '@svcnet/model';
import type { ObjectKind } from '@svcnet/model';
import type { StoreConnection } from './connection.js';
import { KindCache, type UndecodableRecord, type WatchHandlers } from './kind-cache.js';
import { openFeed, streamInfo, type Feed, type FeedEntry } from './kv-feed.js';

export type { WatchHandlers, UndecodableRecord } from './kind-cache.js';

export interface KindWatcherParams<T> {
  connection: StoreConnection;
  kind: ObjectKind;
  codec: { decode(b: Uint8Array): T };
  handlers: WatchHandlers<T>;
  namespace?: string;
  logger?: Logger;
  /** Defaults to the state bucket. */
  bucket?: string;
}

const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 2_000;

/**
 * List + watch of one kind in the state bucket, with a typed cache: a
 * Kubernetes informer on NATS KV. The initial list comes first (then
 * `onSynced`), then live changes. After a disconnect or a NATS restart it
 * resumes from the last revision it saw; when that history is gone (stream
 * recreated or records expired) it lists again and synthesizes deletes for
 * keys that vanished. Undecodable values are logged and skipped.
 */
export class KindWatcher<T> {
  private readonly params: KindWatcherParams<T>;
  private readonly bucket: string;
  private readonly logger: Logger;
  private readonly cache: KindCache<T>;
  private lastRevision = 0;
  private streamCreated: string | undefined;
  private feed: Feed | undefined;
  private generation = 0;
  private stopped = true;
  private forceResync = false;
  /** A list was started and has not finished: whatever interrupts it, list again. */
  private listing = false;
  private restarting: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private firstSync: { resolve(): void; promise: Promise<void> } | undefined;
  private statusIterator: (AsyncIterable<unknown> & { stop?: () => void }) | undefined;
  /** Full lists done so far (1 after start; more after resyncs). For tests and metrics. */
  resyncCount = 0;

  constructor(params: KindWatcherParams<T>) {
    this.params = params;
    this.bucket = params.bucket ?? STATE_BUCKET;
    this.logger = (params.logger ?? pino({ level: 'silent' })).child({
      component: 'watcher',
      kind: params.kind,
      ...(params.namespace ? { namespace: params.namespace } : {}),
    });
    this.cache = new KindCache<T>(params.codec, params.handlers, this.logger);
  }

  /** Values skipped because they could not be decoded. */
  get decodeErrors(): number {
    return this.cache.decodeErrors;
  }

  /** The highest store revision applied to the cache. */
  get revision(): number {
    return this.lastRevision;
  }

  /** The cache: key (`services.ns.name`) → object. Do not mutate the objects. */
  snapshot(): ReadonlyMap<string, T> {
    return this.cache.snapshot();
  }

  /** Keys whose current value cannot be decoded, with the revision of that value. */
  broken(): ReadonlyMap<string, UndecodableRecord> {
    return this.cache.broken();
  }

  /** Starts watching; resolves after the initial list has been delivered. */
  async start(): Promise<void> {
    if (!this.stopped) return this.firstSync?.promise;
    this.stopped = false;
    let resolve!: () => void;
    const promise = new Promise<void>((r) => (resolve = r));
    this.firstSync = { resolve, promise };
    void this.watchConnection();
    this.scheduleRestart(0);
    return promise;
  }

  /** Stops the feed. The cache keeps its last contents. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.generation++;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.feed?.stop();
    this.feed = undefined;
    this.statusIterator?.stop?.();
    this.statusIterator = undefined;
    await this.restarting?.catch(() => undefined);
  }

  /** Forces a full list on the next (re)connection and triggers it now. */
  resync(): void {
    this.forceResync = true;
    this.scheduleRestart(0);
  }

  private async watchConnection(): Promise<void> {
    const statuses = this.params.connection.nc.status();
    this.statusIterator = statuses;
    for await (const s of statuses) {
      if (this.stopped) break;
      if (s.type === 'reconnect') {
        // The server may have restarted and lost our ephemeral consumer: resume
        // from our own revision rather than waiting for missed heartbeats.
        this.logger.info({ revision: this.lastRevision }, 'reconnected to NATS; resuming the feed');
        this.scheduleRestart(0);
      }
    }
  }

  private scheduleRestart(delayMs: number, attempt = 0): void {
    if (this.stopped) return;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.restarting = this.restart().catch((err: unknown) => {
        if (this.stopped) return;
        // Jittered, so a fleet of agents does not retry in lockstep after an outage.
        const next = Math.round(Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** attempt) * (0.5 + Math.random()));
        this.logger.warn({ err, retryInMs: next }, 'cannot open the change feed; retrying');
        this.scheduleRestart(next, attempt + 1);
      });
    }, delayMs);
  }

  /** Decides between resume and full list, then opens a new feed. */
  private async restart(): Promise<void> {
    const gen = ++this.generation;
    this.feed?.stop();
    this.feed = undefined;
    const filter = kindKeyFilter(this.params.kind, this.params.namespace);
    const info = await streamInfo(this.params.connection.nc, this.bucket);
    if (gen !== this.generation || this.stopped) return;
    const historyGone =
      this.forceResync ||
      this.listing ||
      this.lastRevision === 0 ||
      (this.streamCreated !== undefined && info.created !== this.streamCreated) ||
      info.state.last_seq < this.lastRevision ||
      // With a max age, records (delete markers too) may have expired unseen.
      (info.config.max_age > 0 && info.state.first_seq > this.lastRevision + 1);
    const fullList = historyGone;
    if (fullList && this.lastRevision > 0) {
      this.logger.warn({ revision: this.lastRevision, lastSeq: info.state.last_seq }, 'history gone; full resync');
    }
    this.forceResync = false;
    this.listing = fullList;
    this.streamCreated = info.created;
    let seen = fullList ? new Set<string>() : undefined;
    const listedUpTo = info.state.last_seq;
    const feed = await openFeed({
      nc: this.params.connection.nc,
      bucket: this.bucket,
      filter,
      ...(fullList ? {} : { startRevision: this.lastRevision + 1 }),
      onEntry: (e) => {
        if (gen === this.generation) this.apply(e, seen);
      },
      onCaughtUp: () => {
        if (gen !== this.generation || !seen) return;
        this.finishList(seen, listedUpTo);
        seen = undefined;
      },
      onClosed: (err) => {
        if (gen !== this.generation || this.stopped) return;
        this.logger.warn({ err }, 'change feed closed; reopening');
        this.scheduleRestart(RETRY_MIN_MS);
      },
    });
    if (gen !== this.generation || this.stopped) {
      feed.stop();
      return;
    }
    this.feed = feed;
  }

  /** After a full list: keys we hold that the store no longer has were deleted. */
  private finishList(seen: Set<string>, listedUpTo: number): void {
    this.cache.retainOnly(seen, Math.max(this.lastRevision, listedUpTo));
    this.lastRevision = Math.max(this.lastRevision, listedUpTo);
    this.listing = false;
    this.resyncCount++;
    this.cache.synced();
    this.firstSync?.resolve();
  }

  private apply(e: FeedEntry, seen: Set<string> | undefined): void {
    // Resumed feeds may repeat what we already applied; a full list may not.
    if (!seen && e.revision <= this.lastRevision) return;
    this.lastRevision = Math.max(this.lastRevision, e.revision);
    if (e.operation === 'PUT') seen?.add(e.key);
    this.cache.apply(e);
  }
}
