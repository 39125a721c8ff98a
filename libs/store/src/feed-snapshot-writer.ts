import { randomBytes } from 'node:crypto';
import type { KV } from '@nats-io/kv';
import type { Logger } from 'pino';
import { pino } from 'pino';
import { FEED_BUCKET, STATE_BUCKET } from '@svcnet/model';
import type { StoreConnection } from './connection.js';
import { chunkRecords, packRecords, recordSize } from './feed-records.js';
import { decodeHead, encodeHead, FEED_FORMAT, FEED_HEAD_KEY, snapshotChunkKey, type FeedBase, type FeedHead } from './feed-snapshot.js';
import { FleetFeed } from './fleet-feed.js';
import { jsmFor, kvStreamName, streamInfo, type FeedEntry } from './kv-feed.js';
import { isCasConflict } from './store-errors.js';

export interface FeedSnapshotWriterParams {
  connection: StoreConnection;
  /** The feed bucket, opened (created) by the caller with its replica count. */
  feedKv: KV;
  prefixes: readonly string[];
  bucket?: string;
  feedBucket?: string;
  logger?: Logger;
  /** Head writes wait this long after a change, to take several at once (default 50 ms). */
  headDelayMs?: number;
  /** A new snapshot once the delta has this many records… (default 512) */
  compactAfterRecords?: number;
  /** …or this many raw bytes (default 256 KiB)… */
  compactAfterBytes?: number;
  /** …or its snapshot is this old (default 5 min; must stay below the age at which others' leftovers are removed). */
  maxSnapshotAgeMs?: number;
  /** Raw bytes per chunk before compressing (default 768 KiB, below NATS' 1 MiB payload limit). */
  chunkRawBytes?: number;
}

interface Installed {
  id: string;
  revision: number;
  chunks: number;
  records: number;
  bytes: number;
  at: number;
  /** Changes after the snapshot, latest per key (PUT or DEL). */
  delta: Map<string, FeedEntry>;
  deltaBytes: number;
}

/** Snapshots of other writers (or older ones of ours) not referenced any more are removed after this long. */
const LEFTOVER_AGE_MS = 10 * 60_000;
const GC_EVERY_MS = 5 * 60_000;

/**
 * Keeps the feed bucket's shared snapshot current: follows the state bucket
 * (listing it, never trusting an earlier snapshot), writes a full snapshot in
 * compressed chunks now and then and, after every burst of changes, a small
 * head naming that snapshot plus the changes since. Several state replicas may
 * each run one: heads are written compare-and-set and only forward (a head at
 * or past our revision is left alone), and each writer's snapshots have their
 * own ids.
 */
export class FeedSnapshotWriter {
  private readonly p: FeedSnapshotWriterParams;
  private readonly bucket: string;
  private readonly feedBucket: string;
  private readonly log: Logger;
  private readonly writerId = randomBytes(4).toString('hex');
  private readonly feed: FleetFeed;
  private readonly records = new Map<string, FeedEntry>();
  private installed: Installed | undefined;
  /** Changes arriving while a snapshot is being written (they belong to its delta). */
  private during: Map<string, FeedEntry> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private gcTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private written = 0;
  private stopped = true;
  /** Our snapshots still in the bucket, oldest first. */
  private own: { id: string; chunks: number }[] = [];
  /** Heads and snapshots written (for tests and metrics). */
  heads = 0;
  snapshots = 0;

  constructor(params: FeedSnapshotWriterParams) {
    this.p = params;
    this.bucket = params.bucket ?? STATE_BUCKET;
    this.feedBucket = params.feedBucket ?? FEED_BUCKET;
    this.log = (params.logger ?? pino({ level: 'silent' })).child({ component: 'feed-snapshots', writer: this.writerId });
    this.feed = new FleetFeed({
      connection: params.connection,
      prefixes: params.prefixes,
      bucket: this.bucket,
      snapshots: false,
      ...(params.logger ? { logger: params.logger } : {}),
      handlers: {
        onBase: (base) => this.onBase(base),
        onChange: (e) => this.onChange(e),
        onRevision: () => this.schedule(),
      },
    });
  }

  /** The revision of the last head this writer stored. */
  get writtenRevision(): number {
    return this.written;
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.feed.start();
    this.schedule();
    this.gcTimer = setInterval(() => void this.collectLeftovers(), GC_EVERY_MS);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.gcTimer) clearInterval(this.gcTimer);
    await this.feed.stop();
    await this.flushing?.catch(() => undefined);
  }

  private onBase(base: FeedBase): void {
    this.records.clear();
    for (const [k, e] of base.records) this.records.set(k, e);
    // The delta of our snapshot is unknown across a resync: the next flush writes a new snapshot.
    this.installed = undefined;
    this.during = undefined;
  }

  private onChange(e: FeedEntry): void {
    if (e.operation === 'PUT') this.records.set(e.key, e);
    else this.records.delete(e.key);
    this.during?.set(e.key, e);
    if (this.installed) {
      const old = this.installed.delta.get(e.key);
      this.installed.deltaBytes += recordSize(e) - (old ? recordSize(old) : 0);
      this.installed.delta.set(e.key, e);
    }
  }

  private schedule(): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.flushing) {
        void this.flushing.finally(() => this.schedule());
        return;
      }
      this.flushing = this.flush()
        .catch((err: unknown) => {
          this.log.warn({ err }, 'cannot write the feed snapshot; will retry');
          if (this.timer) clearTimeout(this.timer);
          this.timer = setTimeout(() => {
            this.timer = undefined;
            this.schedule();
          }, 1_000);
        })
        .finally(() => {
          this.flushing = undefined;
        });
    }, this.p.headDelayMs ?? 50);
  }

  private compactDue(now: number): boolean {
    const i = this.installed;
    if (!i) return true;
    return (
      i.delta.size > (this.p.compactAfterRecords ?? 512) ||
      i.deltaBytes > (this.p.compactAfterBytes ?? 256 * 1024) ||
      now - i.at > (this.p.maxSnapshotAgeMs ?? 5 * 60_000)
    );
  }

  private async flush(): Promise<void> {
    if (this.stopped || !this.feed.caughtUp || this.feed.revision <= this.written) return;
    const current = await this.p.feedKv.get(FEED_HEAD_KEY);
    const currentHead = current && current.operation === 'PUT' && current.value.length > 0 ? decodeHead(current.value).head : undefined;
    const info = await streamInfo(this.p.connection.nc, this.bucket);
    if (!this.feed.caughtUp) return this.schedule();
    if (currentHead && currentHead.format === FEED_FORMAT && currentHead.streamCreated === info.created && currentHead.revision >= this.feed.revision) {
      this.written = this.feed.revision; // Another replica is as far: nothing to add.
      return;
    }
    const now = Date.now();
    if (this.compactDue(now)) await this.writeSnapshot(now);
    const i = this.installed;
    if (!i || !this.feed.caughtUp) return this.schedule();
    // Captured together, synchronously: the delta holds exactly the changes after the snapshot up to `revision`.
    const revision = this.feed.revision;
    const delta = [...i.delta.values()];
    const head: FeedHead = {
      format: FEED_FORMAT,
      bucket: this.bucket,
      streamCreated: info.created,
      prefixes: [...this.p.prefixes],
      revision,
      snapshot: { id: i.id, revision: i.revision, chunks: i.chunks, records: i.records, bytes: i.bytes },
      deltaRecords: delta.length,
      writer: this.writerId,
      writtenAt: new Date(now).toISOString(),
    };
    const bytes = encodeHead({ head, delta: await packRecords(delta) });
    try {
      if (current) await this.p.feedKv.update(FEED_HEAD_KEY, bytes, current.revision);
      else await this.p.feedKv.create(FEED_HEAD_KEY, bytes);
    } catch (err) {
      if (!isCasConflict(err)) throw err;
      this.log.debug({ revision }, 'another writer stored a head first; re-checking');
      this.schedule();
      return;
    }
    this.written = revision;
    this.heads++;
    if (this.feed.revision > revision) this.schedule();
  }

  /** Writes every record, sorted by key, as one new snapshot at `revision`; the delta restarts from there. */
  private async writeSnapshot(now: number): Promise<void> {
    const revision = this.feed.revision;
    const entries = [...this.records.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    this.during = new Map();
    const id = `${revision}-${this.writerId}`;
    let bytes = 0;
    try {
      const groups = chunkRecords(entries, this.p.chunkRawBytes ?? 768 * 1024);
      for (let i = 0; i < groups.length; i++) {
        const packed = await packRecords(groups[i]!);
        bytes += packed.length;
        await this.p.feedKv.put(snapshotChunkKey(id, i), packed);
      }
      const delta = this.during;
      this.installed = {
        id,
        revision,
        chunks: groups.length,
        records: entries.length,
        bytes,
        at: now,
        delta,
        deltaBytes: [...delta.values()].reduce((n, e) => n + recordSize(e), 0),
      };
      this.snapshots++;
      this.own.push({ id, chunks: groups.length });
      this.log.debug({ id, records: entries.length, chunks: groups.length, bytes }, 'wrote a feed snapshot');
    } finally {
      this.during = undefined;
    }
    // Keep the previous one a while: agents may be reading it right now.
    while (this.own.length > 2) {
      const old = this.own.shift()!;
      await this.purge(old.id);
    }
  }

  private async purge(id: string): Promise<void> {
    const jsm = await jsmFor(this.p.connection.nc);
    // A stream purge by subject leaves no deletion markers behind (a KV purge would, per key).
    await jsm.streams.purge(kvStreamName(this.feedBucket), { filter: `$KV.${this.feedBucket}.snap.${id}.>` }).catch((err: unknown) => {
      this.log.warn({ err, id }, 'cannot remove an old feed snapshot');
    });
  }

  /**
   * Snapshots nobody references and nobody wrote recently (a writer that
   * stopped, a head that lost a race) are removed. The head's own snapshot
   * and this writer's recent ones are never touched.
   */
  private async collectLeftovers(): Promise<void> {
    if (this.stopped) return;
    try {
      const current = await this.p.feedKv.get(FEED_HEAD_KEY);
      const referenced = current && current.operation === 'PUT' ? decodeHead(current.value).head.snapshot.id : undefined;
      const mine = new Set(this.own.map((o) => o.id));
      const ids = new Map<string, number>();
      const keys = await this.p.feedKv.keys('snap.>');
      for await (const key of keys) {
        const id = key.split('.')[1];
        if (id && id !== referenced && !mine.has(id)) ids.set(id, 0);
      }
      const now = Date.now();
      for (const id of ids.keys()) {
        const first = await this.p.feedKv.get(snapshotChunkKey(id, 0));
        if (first && now - first.created.getTime() > LEFTOVER_AGE_MS) await this.purge(id);
      }
    } catch (err) {
      this.log.debug({ err }, 'feed snapshot clean-up skipped');
    }
  }
}

/**
 * Opens (creating, with `replicas` copies) the feed bucket. Unlike the state
 * bucket it allows direct gets: any replica may answer a starting agent, and a
 * replica that is behind can only serve an older head (the agent fetches the
 * rest) or no chunk (the agent asks the leader).
 */
export function openFeedBucket(connection: StoreConnection, options: { replicas?: number } = {}): Promise<KV> {
  return connection.bucket(FEED_BUCKET, { history: 1, replicas: options.replicas ?? 1, allow_direct: true });
}
