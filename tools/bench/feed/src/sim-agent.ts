/**
 * A simulated node agent: its own NATS connection, the agent's change feed
 * (the FleetFeed of @svcnet/store, or — to measure the design it replaced —
 * one KindWatcher per kind, each with its own consumer), an in-memory plan
 * (one rule line per service and per endpoints object) synced like the
 * agent's bounded-frequency runner, and the agent's node record and progress
 * answers (NodeStatusPublisher). Many run in one process, so pure work on
 * identical bytes (inflating and decoding the shared snapshot, decoding one
 * record) is done once per process and shared: a real agent does it once on
 * its own CPU. Every byte is still received on each agent's own connection.
 */
import { endpointsCodec, serviceCodec } from '@svcnet/api';
import type { Endpoints, NodeStatus, Service } from '@svcnet/model';
import {
  assembleBase,
  connectStore,
  FleetFeed,
  KindWatcher,
  NodeStatusPublisher,
  type BaseParts,
  type FeedBase,
  type FeedEntry,
  type StoreConnection,
} from '@svcnet/store';
import { pino } from 'pino';
import { WRITTEN_AT } from './fixtures.js';

/** BENCH_FEED_LOG=warn (or info, debug) shows what the agents' feeds log, on stderr. */
const feedLogger = process.env['BENCH_FEED_LOG'] ? pino({ level: process.env['BENCH_FEED_LOG'] }, pino.destination(2)) : undefined;

/** Wall clock with sub-millisecond resolution, comparable across processes. */
export const wallNow = (): number => performance.timeOrigin + performance.now();

/** A rule derived from one record, and when the benchmark wrote it (0 if not stamped). */
interface Derived {
  rule: string | undefined;
  writtenAt: number;
}

function derive(key: string, value: Uint8Array): Derived {
  if (key.startsWith('services.')) {
    const s = serviceCodec.decode(value);
    const p = s.spec.ports[0];
    return { rule: `${s.spec.clusterIP}:${p?.port}/${p?.protocol}`, writtenAt: Number(s.metadata.annotations[WRITTEN_AT] ?? 0) };
  }
  if (key.startsWith('endpoints.')) {
    const e = endpointsCodec.decode(value);
    return { rule: e.subsets.flatMap((s) => s.addresses.map((a) => a.ip)).join(','), writtenAt: Number(e.metadata.annotations[WRITTEN_AT] ?? 0) };
  }
  return { rule: undefined, writtenAt: 0 };
}

/** What the agents of one process share: decoded snapshots and records (pure functions of their bytes). */
export class SharedDecoding {
  private readonly bases = new Map<number, FeedBase>();
  private readonly plans = new WeakMap<FeedBase, ReadonlyMap<string, string>>();
  private readonly records = new Map<string, Derived>();

  /** FleetFeed's assembleBase, memoized by the head's stream sequence (same sequence, same bytes). */
  readonly assemble = (parts: BaseParts): FeedBase => {
    let base = this.bases.get(parts.headSeq);
    if (!base) {
      base = assembleBase(parts);
      this.bases.clear(); // only the newest is worth keeping
      this.bases.set(parts.headSeq, base);
    }
    return base;
  };

  /** The plan lines of a base (computed once per base object). */
  planOf(base: FeedBase): ReadonlyMap<string, string> {
    let plan = this.plans.get(base);
    if (!plan) {
      const lines = new Map<string, string>();
      for (const [key, e] of base.records) {
        const rule = derive(key, e.value).rule;
        if (rule !== undefined) lines.set(key, rule);
      }
      plan = lines;
      this.plans.set(base, plan);
    }
    return plan;
  }

  record(e: FeedEntry): Derived {
    const id = `${e.key}@${e.revision}`;
    let d = this.records.get(id);
    if (!d) {
      d = derive(e.key, e.value);
      if (this.records.size > 50_000) this.records.clear();
      this.records.set(id, d);
    }
    return d;
  }
}

/** What an agent tells its process. */
export interface SimAgentEvents {
  /** A change written by the benchmark reached this agent's plan `latencyMs` after the write. */
  applied(writtenAt: number, latencyMs: number): void;
  /** Everything up to `revision` is in the plan (after a sync). */
  programmed(agent: SimAgent, from: number, to: number): void;
}

export interface SimAgentParams {
  name: string;
  natsUrl: string;
  mode: 'fleet' | 'consumers';
  /** The runner's minimum interval between two syncs (svcnet-agent's --min-sync-period). */
  minSyncMs: number;
  heartbeatMs: number;
  shared: SharedDecoding;
  events: SimAgentEvents;
}

export class SimAgent {
  readonly name: string;
  private readonly p: SimAgentParams;
  private connection: StoreConnection | undefined;
  private feed: FleetFeed | undefined;
  private watchers: KindWatcher<unknown>[] = [];
  private publisher: NodeStatusPublisher | undefined;
  private base: ReadonlyMap<string, string> = new Map();
  /** Plan lines changed since the base (undefined: deleted). */
  private readonly overlay = new Map<string, string | undefined>();
  private pending: { e: FeedEntry; derived?: Derived }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private lastSyncAt = 0;
  private synced = false;
  private readonly startedAt = new Date();
  private syncedResolve: (() => void) | undefined;
  programmed = 0;
  syncs = 0;

  /** Bases taken and records fetched to close gaps (a healthy run: 1 and 0). */
  get feedStats(): { resyncs: number; gapRecords: number } {
    return { resyncs: this.feed?.resyncCount ?? 0, gapRecords: this.feed?.gapRecordsFetched ?? 0 };
  }

  constructor(params: SimAgentParams) {
    this.p = params;
    this.name = params.name;
  }

  /** Plan lines (a check that every agent holds the whole state). */
  get planSize(): number {
    let n = this.base.size;
    for (const [k, v] of this.overlay) {
      const inBase = this.base.has(k);
      if (v === undefined && inBase) n--;
      else if (v !== undefined && !inBase) n++;
    }
    return n;
  }

  async connect(): Promise<void> {
    this.connection = await connectStore({ url: this.p.natsUrl, name: `bench-agent ${this.name}`, reconnectForever: false, requestTimeoutMs: 30_000 });
  }

  /** Starts the feed (and the node record); resolves at the first sync after the initial state. */
  start(): Promise<void> {
    const connection = this.connection!;
    const done = new Promise<void>((r) => (this.syncedResolve = r));
    this.publisher = new NodeStatusPublisher({ connection, nodeName: this.name, status: () => this.status(), intervalMs: this.p.heartbeatMs });
    this.publisher.start();
    if (this.p.mode === 'fleet') {
      this.feed = new FleetFeed({
        connection,
        prefixes: ['services.', 'endpoints.'],
        assembleBase: this.p.shared.assemble,
        ...(feedLogger ? { logger: feedLogger.child({ agent: this.name }) } : {}),
        handlers: {
          onBase: (base) => {
            this.base = this.p.shared.planOf(base);
            this.overlay.clear();
            this.pending = [];
          },
          onChange: (e) => this.onChange(e),
          onRevision: () => this.onRevision(),
          onSynced: () => this.onSynced(),
        },
      });
      void this.feed.start();
    } else {
      // The design before the fleet feed: a list + watch consumer per kind and per agent.
      const lines = new Map<string, string>();
      this.base = lines;
      let listed = 0;
      for (const kind of ['Service', 'Endpoints'] as const) {
        const codec = kind === 'Service' ? serviceCodec : endpointsCodec;
        const w = new KindWatcher<Service | Endpoints>({
          connection,
          kind,
          codec: codec as { decode(b: Uint8Array): Service | Endpoints },
          handlers: {
            onUpsert: (o, meta) =>
              this.onChange(
                { key: meta.key, revision: meta.revision, operation: 'PUT', value: new Uint8Array(0) },
                { rule: `r${meta.revision}`, writtenAt: Number(o.metadata.annotations[WRITTEN_AT] ?? 0) },
              ),
            onDelete: (_k, meta) => this.onChange({ key: meta.key, revision: meta.revision, operation: 'DEL', value: new Uint8Array(0) }),
            onSynced: () => {
              if (++listed === 2) this.onSynced();
            },
          },
        });
        this.watchers.push(w as KindWatcher<unknown>);
        void w.start();
      }
    }
    return done;
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    await this.feed?.stop();
    await Promise.all(this.watchers.map((w) => w.stop()));
    await this.publisher?.stop();
    await this.connection?.close();
  }

  private revision(): number {
    return this.feed?.revision ?? Math.max(0, ...this.watchers.map((w) => (w as KindWatcher<unknown>).revision));
  }

  private onChange(e: FeedEntry, derived?: Derived): void {
    this.pending.push(derived ? { e, derived } : { e });
    this.schedule();
  }

  private onRevision(): void {
    // Nothing queued: every change received is in the plan (records outside the plan count too).
    if (this.synced && this.pending.length === 0 && !this.timer) this.advance(this.revision());
  }

  private onSynced(): void {
    this.synced = true;
    this.schedule(true);
  }

  private schedule(now = false): void {
    if (this.timer || !this.synced) return;
    const wait = now ? 0 : Math.max(0, this.lastSyncAt + this.p.minSyncMs - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.sync();
    }, wait);
  }

  private sync(): void {
    const mark = this.revision();
    const changes = this.pending;
    this.pending = [];
    const at = wallNow();
    for (const { e, derived } of changes) {
      if (e.operation !== 'PUT') {
        this.overlay.set(e.key, undefined);
        continue;
      }
      const d = derived ?? this.p.shared.record(e);
      this.overlay.set(e.key, d.rule);
      if (d.writtenAt > 0) this.p.events.applied(d.writtenAt, at - d.writtenAt);
    }
    this.lastSyncAt = Date.now();
    this.syncs++;
    this.advance(mark);
    if (this.syncedResolve) {
      this.syncedResolve();
      this.syncedResolve = undefined;
    }
  }

  private advance(revision: number): void {
    if (revision <= this.programmed) return;
    const from = this.programmed;
    this.programmed = revision;
    this.publisher?.noteProgrammed(revision);
    this.p.events.programmed(this, from, revision);
  }

  private status(): NodeStatus {
    const now = new Date();
    return {
      nodeName: this.name,
      nodeIPs: ['192.0.2.1'],
      proxyMode: 'simulated',
      version: 'bench',
      programmedRevision: this.programmed,
      feedRevision: this.revision(),
      lastSync: this.syncs > 0 ? { at: new Date(this.lastSyncAt), ok: true, full: false, durationMs: 0 } : undefined,
      lastSyncErrors: [],
      counts: { services: 0, servicePorts: 0, endpoints: 0 },
      healthy: true,
      healthReason: '',
      feedConnected: true,
      heartbeatIntervalMs: this.p.heartbeatMs,
      startedAt: this.startedAt,
      registeredAt: this.startedAt,
      reportedAt: now,
    };
  }
}
