import type { Msg, Subscription } from '@nats-io/nats-core';
import type { Logger } from 'pino';
import { pino } from 'pino';
import { FEED_BUCKET, STATE_BUCKET } from '@svcnet/model';
import type { StoreConnection } from './connection.js';
import { readFeedBase, SnapshotUnavailableError, type BaseParts, type FeedBase } from './feed-snapshot.js';
import { listBase } from './feed-list.js';
import { jsmFor, kvStreamName, openFeed, streamInfo, type Feed, type FeedEntry } from './kv-feed.js';

/**
 * Where a bucket's stored records are republished by the server (core NATS,
 * no consumer): `<prefix>.<key>`, headers Nats-Sequence (the revision) and
 * KV-Operation. Set on the bucket's stream by {@link feedRepublish}.
 */
export function feedSubject(bucket: string): string {
  return `svcnet.feed.${bucket}`;
}

/** The stream setting that republishes every record of a bucket to {@link feedSubject}. */
export function feedRepublish(bucket: string): { src: string; dest: string } {
  return { src: `$KV.${bucket}.>`, dest: `${feedSubject(bucket)}.>` };
}

/** What a {@link FleetFeed} delivers. Handlers run synchronously, in revision order. */
export interface FleetFeedHandlers {
  /** A complete state: after start, and again after a resync. Replaces everything held. */
  onBase(base: FeedBase): void;
  /** One change after the base (keys under the feed's prefixes only). */
  onChange(entry: FeedEntry): void;
  /** Every change up to `revision` has been delivered (records outside the prefixes count too). */
  onRevision?(revision: number): void;
  /** The first base and everything stored before the start have been delivered; again after each resync. */
  onSynced?(): void;
}

export interface FleetFeedParams {
  connection: StoreConnection;
  handlers: FleetFeedHandlers;
  /** Key prefixes delivered (`services.`, `endpoints.`). */
  prefixes: readonly string[];
  /** Defaults: the state bucket and the feed bucket. */
  bucket?: string;
  feedBucket?: string;
  /** Start from the shared snapshot when there is one (default true); false lists through a consumer. */
  snapshots?: boolean;
  /** Missing revisions fetched one by one at most; a longer gap resyncs from a base (default 64). */
  gapFillLimit?: number;
  /** How often the stream's last revision is compared with ours, to find a lost tail (default 10 s). */
  tailCheckMs?: number;
  /** How long a record stored but not seen may be in flight before it is fetched (default 1 s). */
  tailGraceMs?: number;
  logger?: Logger;
  /** Replaces the decoding of snapshot bytes (simulated fleets share it); see readFeedBase. */
  assembleBase?: (parts: BaseParts) => FeedBase;
  /** Where the records are republished (default {@link feedSubject} of the bucket). */
  liveSubject?: string;
}

const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 2_000;
/** Fresh heads wanted before a gap after the snapshot is fetched record by record. */
const HEAD_RETRIES = 3;
const HEAD_RETRY_MS = 150;

type Phase = 'stopped' | 'bootstrapping' | 'live';

/**
 * The state bucket's change feed for a fleet of agents, at a cost for NATS
 * that does not grow with consumers: no JetStream consumer per agent. Live
 * changes come from the stream's republish (one core-NATS fan-out per record);
 * the start reads the state service's shared snapshot (a few direct gets) and
 * the records after it. Revisions are contiguous, so a lost message is seen
 * as a gap and fetched by sequence (or, past `gapFillLimit`, replaced by a new
 * base); a lost tail is found by comparing with the stream's last revision
 * periodically and after every reconnect. Without a snapshot it lists through
 * one short-lived consumer per prefix, as KindWatcher does.
 */
export class FleetFeed {
  private readonly p: FleetFeedParams;
  private readonly bucket: string;
  private readonly feedBucket: string;
  private readonly log: Logger;
  private readonly liveSubject: string;
  private phase: Phase = 'stopped';
  /** Live records through a consumer of our own, when the stream does not republish (a bucket older than that setting). */
  private consumer: Feed | undefined;
  private sub: Subscription | undefined;
  /** Everything up to here has been delivered. */
  private rev = 0;
  /** Received or fetched ahead of `rev`; null marks a revision known to be gone (superseded). */
  private readonly pending = new Map<number, FeedEntry | null>();
  private base: FeedBase | undefined;
  /** Revision the stream had when the current base was fetched: synced once delivered up to it. */
  private syncTarget: number | undefined;
  private streamCreated: string | undefined;
  private lastParts: BaseParts | undefined;
  private filling: Promise<void> | undefined;
  private tailTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private statusStop: (() => void) | undefined;
  private firstSync: { promise: Promise<void>; resolve(): void } | undefined;
  private generation = 0;
  /** Bases taken (1 after start; more after resyncs). */
  resyncCount = 0;
  /** Revisions fetched one by one to close gaps. */
  gapRecordsFetched = 0;

  constructor(params: FleetFeedParams) {
    this.p = params;
    this.bucket = params.bucket ?? STATE_BUCKET;
    this.feedBucket = params.feedBucket ?? FEED_BUCKET;
    this.log = (params.logger ?? pino({ level: 'silent' })).child({ component: 'fleet-feed' });
    this.liveSubject = params.liveSubject ?? feedSubject(this.bucket);
  }

  /** Every change up to this revision has been delivered. */
  get revision(): number {
    return this.rev;
  }

  /** True once the first base is delivered and caught up with the stream, and no resync is running. */
  get caughtUp(): boolean {
    return this.phase === 'live' && this.syncTarget === undefined;
  }

  /** Subscribes, then takes a base; resolves once synced (the initial state delivered). */
  start(): Promise<void> {
    if (this.phase !== 'stopped') return this.firstSync!.promise;
    let resolve!: () => void;
    const promise = new Promise<void>((r) => (resolve = r));
    this.firstSync = { promise, resolve };
    this.phase = 'bootstrapping';
    this.sub = this.p.connection.nc.subscribe(`${this.liveSubject}.>`, { callback: (err, m) => (err ? undefined : this.onMessage(m)) });
    this.watchConnection();
    this.scheduleBase(0);
    this.scheduleTailCheck();
    return promise;
  }

  async stop(): Promise<void> {
    this.phase = 'stopped';
    this.generation++;
    this.sub?.unsubscribe();
    this.sub = undefined;
    this.consumer?.stop();
    this.consumer = undefined;
    this.statusStop?.();
    if (this.tailTimer) clearTimeout(this.tailTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await this.filling?.catch(() => undefined);
  }

  /** Takes a new base now (e.g. after the handler found its state damaged). */
  resync(): void {
    if (this.phase === 'stopped') return;
    this.phase = 'bootstrapping';
    this.scheduleBase(0);
  }

  private watchConnection(): void {
    const statuses = this.p.connection.nc.status() as AsyncIterable<{ type: string }> & { stop?: () => void };
    this.statusStop = () => statuses.stop?.();
    void (async () => {
      for await (const s of statuses) {
        if (this.phase === 'stopped') break;
        // Records stored while we were away were not republished to us: look for them now.
        if (s.type === 'reconnect') void this.checkTail(0);
      }
    })().catch(() => undefined);
  }

  private parse(m: Msg): FeedEntry | undefined {
    const seq = Number(m.headers?.get('Nats-Sequence'));
    if (!Number.isSafeInteger(seq) || seq <= 0) return undefined;
    const prefix = this.liveSubject.length + 1;
    const op = m.headers?.get('KV-Operation');
    return { key: m.subject.substring(prefix), revision: seq, operation: op === 'DEL' || op === 'PURGE' ? op : 'PUT', value: m.data };
  }

  private onMessage(m: Msg): void {
    const e = this.parse(m);
    if (e) this.onEntry(e);
  }

  private onEntry(e: FeedEntry): void {
    if (this.phase === 'stopped') return;
    if (this.phase === 'live' && e.revision <= this.rev) return;
    this.pending.set(e.revision, e);
    if (this.phase === 'live') this.drain();
  }

  /** Delivers pending records while they are contiguous; opens a gap fill when one is missing. */
  private drain(): void {
    const before = this.rev;
    for (;;) {
      const next = this.rev + 1;
      if (!this.pending.has(next)) break;
      const e = this.pending.get(next);
      this.pending.delete(next);
      this.rev = next;
      if (e) this.deliver(e);
    }
    if (this.rev !== before) this.p.handlers.onRevision?.(this.rev);
    this.maybeSynced();
    if (this.pending.size > 0 && !this.filling) {
      const first = Math.min(...this.pending.keys());
      if (first <= this.rev) {
        for (const k of [...this.pending.keys()]) if (k <= this.rev) this.pending.delete(k);
        return this.drain();
      }
      this.fill(this.rev + 1, first - 1);
    }
  }

  private deliver(e: FeedEntry): void {
    if (!this.p.prefixes.some((x) => e.key.startsWith(x))) return;
    // After a list, a key may already be newer than this record (or deleted after it).
    const b = this.base;
    if (b && e.revision <= (b.records.get(e.key)?.revision ?? b.tombstones.get(e.key) ?? 0)) return;
    try {
      this.p.handlers.onChange(e);
    } catch (err) {
      this.log.error({ err, key: e.key }, 'feed handler threw');
    }
  }

  private maybeSynced(): void {
    if (this.phase !== 'live' || this.syncTarget === undefined || this.rev < this.syncTarget) return;
    this.syncTarget = undefined;
    this.resyncCount++;
    try {
      this.p.handlers.onSynced?.();
    } catch (err) {
      this.log.error({ err }, 'feed handler threw');
    }
    this.firstSync?.resolve();
  }

  private scheduleBase(delayMs: number, attempt = 0): void {
    if (this.phase === 'stopped') return;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.takeBase().catch((err: unknown) => {
        if (this.phase === 'stopped') return;
        // Jittered, so a fleet does not retry in lockstep after an outage.
        const next = Math.round(Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** attempt) * (0.5 + Math.random()));
        this.log.warn({ err, retryInMs: next }, 'cannot read the state; retrying');
        this.scheduleBase(next, attempt + 1);
      });
    }, delayMs);
  }

  /**
   * A new base: the snapshot when there is a usable one, a list otherwise.
   * Live records keep arriving into `pending` meanwhile; those after the base
   * are delivered once it is in, and the stream's last revision at this moment
   * tells when the start is synced.
   */
  private async takeBase(): Promise<void> {
    const gen = ++this.generation;
    this.phase = 'bootstrapping';
    const nc = this.p.connection.nc;
    // The subscription is in place before we look: everything stored from now on reaches us.
    await nc.flush();
    this.consumer?.stop();
    this.consumer = undefined;
    const info = await streamInfo(nc, this.bucket);
    if (gen !== this.generation) return;
    this.streamCreated = info.created;
    const republished = this.p.liveSubject !== undefined || info.config.republish?.dest === `${this.liveSubject}.>`;
    if (!republished) {
      this.log.warn({ bucket: this.bucket }, 'the bucket does not republish its records (created by an older svcnet on nats-server 2.9): following it through a consumer of our own');
    }
    const target = info.state.last_seq;
    let base: FeedBase | undefined;
    if (this.p.snapshots ?? true) base = await this.snapshotBase(info.created, target, gen);
    if (gen !== this.generation) return;
    if (!base) base = await listBase({ nc, bucket: this.bucket, prefixes: this.p.prefixes, revision: target });
    if (gen !== this.generation) return;
    this.installBase(base, target);
    if (!republished) await this.followWithConsumer(gen);
  }

  /** Live records from an ordered consumer starting after our revision (reopened after it ends). */
  private async followWithConsumer(gen: number): Promise<void> {
    const feed = await openFeed({
      nc: this.p.connection.nc,
      bucket: this.bucket,
      filter: '>',
      startRevision: this.rev + 1,
      onEntry: (e) => {
        if (gen === this.generation) this.onEntry(e);
      },
      onCaughtUp: () => undefined,
      onClosed: () => {
        if (gen === this.generation && this.phase === 'live') void this.followWithConsumer(gen).catch(() => this.resync());
      },
    });
    if (gen !== this.generation || this.phase === 'stopped') feed.stop();
    else this.consumer = feed;
  }

  /**
   * The shared snapshot, when it covers us. A head a little older than the
   * stream is fine (the gap is fetched); a fresher head is asked for a few
   * times first, because the state service writes one shortly after changes.
   */
  private async snapshotBase(streamCreated: string, target: number, gen: number): Promise<FeedBase | undefined> {
    for (let attempt = 0; ; attempt++) {
      try {
        const { base, parts } = await readFeedBase({
          nc: this.p.connection.nc,
          feedBucket: this.feedBucket,
          stateBucket: this.bucket,
          streamCreated,
          prefixes: this.p.prefixes,
          ...(this.p.assembleBase ? { assemble: this.p.assembleBase } : {}),
          ...(this.lastParts ? { cachedChunks: { id: this.lastParts.head.snapshot.id, chunks: this.lastParts.chunks } } : {}),
        });
        this.lastParts = parts;
        const gap = target - base.revision;
        if (gap <= 0) return base;
        // Fetching a fresher head (from any replica) is cheaper for the servers than fetching the gap.
        if (attempt >= HEAD_RETRIES) {
          if (gap <= (this.p.gapFillLimit ?? 64)) return base;
          this.log.info({ snapshot: base.revision, stream: target }, 'the shared snapshot is too far behind; listing instead');
          return undefined;
        }
      } catch (err) {
        if (!(err instanceof SnapshotUnavailableError)) throw err;
        if (!err.retryable || attempt >= HEAD_RETRIES) {
          this.log.info({ reason: err.message }, 'no usable shared snapshot; listing instead');
          return undefined;
        }
      }
      await new Promise((r) => setTimeout(r, HEAD_RETRY_MS));
      if (gen !== this.generation) return undefined;
    }
  }

  private installBase(base: FeedBase, target: number): void {
    this.base = base;
    this.rev = base.revision;
    for (const k of [...this.pending.keys()]) if (k <= this.rev) this.pending.delete(k);
    this.syncTarget = target;
    try {
      this.p.handlers.onBase(base);
    } catch (err) {
      this.log.error({ err }, 'feed handler threw');
    }
    this.log.debug({ source: base.source, revision: base.revision, records: base.records.size, target }, 'feed base taken');
    this.phase = 'live';
    this.p.handlers.onRevision?.(this.rev);
    // Records between the base and the first one received live are fetched by the gap fill.
    if (this.rev < target && ![...this.pending.keys()].some((k) => k <= target)) this.fill(this.rev + 1, target);
    this.drain();
  }

  /**
   * Fetches revisions `from..to` from the stream leader one by one (a record
   * that is gone was superseded by a later one, which we will see), or takes
   * a new base when the gap is too long.
   */
  private fill(from: number, to: number): void {
    if (this.filling || to < from || this.phase !== 'live') return;
    const gen = this.generation;
    if (to - from + 1 > (this.p.gapFillLimit ?? 64)) {
      this.log.warn({ from, to }, 'missed too many changes; taking a new base');
      this.phase = 'bootstrapping';
      this.scheduleBase(0);
      return;
    }
    this.filling = (async () => {
      const jsm = await jsmFor(this.p.connection.nc);
      const stream = kvStreamName(this.bucket);
      const prefix = `$KV.${this.bucket}.`.length;
      for (let seq = from; seq <= to; seq++) {
        if (this.pending.has(seq)) continue;
        const m = await jsm.streams.getMessage(stream, { seq }).catch((err: unknown) => {
          if (/no message found|not found/i.test((err as Error).message)) return null;
          throw err;
        });
        if (gen !== this.generation) return;
        this.gapRecordsFetched++;
        const op = m?.header?.get('KV-Operation');
        this.pending.set(seq, m ? { key: m.subject.substring(prefix), revision: seq, operation: op === 'DEL' || op === 'PURGE' ? op : 'PUT', value: m.data } : null);
      }
    })()
      .catch((err: unknown) => {
        this.log.warn({ err, from, to }, 'cannot fetch missed changes; taking a new base');
        if (gen === this.generation && this.phase === 'live') {
          this.phase = 'bootstrapping';
          this.scheduleBase(RETRY_MIN_MS);
        }
      })
      .finally(() => {
        this.filling = undefined;
        if (gen === this.generation && this.phase === 'live') this.drain();
      });
  }

  private scheduleTailCheck(): void {
    const every = this.p.tailCheckMs ?? 10_000;
    this.tailTimer = setTimeout(() => {
      void this.checkTail(this.p.tailGraceMs ?? 1_000).finally(() => {
        if (this.phase !== 'stopped') this.scheduleTailCheck();
      });
    }, Math.round(every * (0.8 + 0.4 * Math.random())));
  }

  /**
   * Compares with the stream: a record stored but never received (the last
   * ones before a disconnect, say) is fetched once `graceMs` has let it
   * arrive on its own; a recreated or rewound stream means a new base.
   */
  private async checkTail(graceMs: number): Promise<void> {
    if (this.phase !== 'live') return;
    let info;
    try {
      info = await streamInfo(this.p.connection.nc, this.bucket);
    } catch {
      return; // Not connected: the reconnect will check again.
    }
    if (this.phase !== 'live') return;
    const last = info.state.last_seq;
    const gone = info.config.max_age > 0 && info.state.first_seq > this.rev + 1;
    // A last revision below ours is no sign of a rewind: the answer may simply predate records
    // republished to us since. Only a new stream (its creation time) starts the revisions over.
    if (info.created !== this.streamCreated || gone) {
      this.log.warn({ revision: this.rev, lastSeq: last }, 'the stream was recreated or lost records; taking a new base');
      this.scheduleBase(0);
      return;
    }
    if (last <= this.rev) return;
    if (graceMs > 0) await new Promise((r) => setTimeout(r, graceMs));
    if (this.phase === 'live' && this.rev < last) this.fill(this.rev + 1, last);
  }
}
