import type { Subscription } from '@nats-io/nats-core';
import type { Logger } from 'pino';
import { nodeStatusCodec } from '@svcnet/api';
import { NODES_BUCKET, nodeCondition, type NodeCondition, type NodeStatus } from '@svcnet/model';
import { NODE_PROBE_SUBJECT, NODE_PROGRESS_WILDCARD, openFeed, type Feed, type NodeProbe, type NodeProgressReport, type StoreConnection } from '@svcnet/store';

/** What the state service knows of one node. */
export interface NodeView {
  name: string;
  status: NodeStatus;
  /** When its record was last stored (the NATS server's clock). */
  heardAt: Date;
  /** The freshest programmed revision: the record's, or a newer progress answer. */
  programmedRevision: number;
  /** When a progress answer last came (this process' clock), if ever. */
  answeredAt: number | undefined;
  condition: NodeCondition;
}

export interface NodeDirectoryParams {
  connection: StoreConnection;
  logger: Logger;
  /** Records older than this are gone from the bucket (its max age): forget them here too. */
  recordTtlMs: number;
  now?: () => number;
}

const RELIST_DELAY_MS = 500;

/**
 * The nodes bucket as the state service sees it: every node's last record
 * (one list+watch of the bucket, relisted whenever it breaks), and the
 * progress answers agents publish when probed. Conditions are judged at
 * read time from the record's age and the node's own heartbeat interval.
 */
export class NodeDirectory {
  private readonly p: NodeDirectoryParams;
  private readonly records = new Map<string, { status: NodeStatus; heardAt: Date }>();
  private readonly progress = new Map<string, { revision: number; at: number }>();
  private readonly listeners = new Set<(node?: string) => void>();
  private feed: Feed | undefined;
  private progressSub: Subscription | undefined;
  private stopped = true;
  private generation = 0;
  private retry: NodeJS.Timeout | undefined;
  private synced: Promise<void> | undefined;
  /** Records that could not be decoded (for logs and tests). */
  undecodable = 0;

  constructor(params: NodeDirectoryParams) {
    this.p = params;
  }

  private now(): number {
    return this.p.now?.() ?? Date.now();
  }

  /** Starts watching; resolves after the first list (or at once if the bucket cannot be read yet). */
  start(): Promise<void> {
    if (!this.stopped) return this.synced ?? Promise.resolve();
    this.stopped = false;
    const dec = new TextDecoder();
    this.progressSub = this.p.connection.nc.subscribe(NODE_PROGRESS_WILDCARD, {
      callback: (err, m) => {
        if (err) return;
        try {
          const r = JSON.parse(dec.decode(m.data)) as NodeProgressReport;
          // The subject, not the payload, says who answered: only that node's agent may publish there.
          const node = m.subject.substring(NODE_PROGRESS_WILDCARD.length - 1);
          if (typeof r.programmedRevision !== 'number' || r.node !== node) return;
          const old = this.progress.get(node);
          this.progress.set(node, { revision: Math.max(old?.revision ?? 0, r.programmedRevision), at: this.now() });
          this.changed(node);
        } catch {
          // Not a progress answer: ignore.
        }
      },
    });
    this.synced = this.watch();
    return this.synced;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.generation++;
    if (this.retry) clearTimeout(this.retry);
    this.feed?.stop();
    this.progressSub?.unsubscribe();
  }

  /**
   * Called after every change: with the node's name for a record or a
   * progress answer, with none after a relist. Returns the function that
   * removes it.
   */
  listen(fn: (node?: string) => void): () => void {
    this.listeners.add(fn);
    return () => void this.listeners.delete(fn);
  }

  /**
   * Asks every agent for its progress: each answers once it has programmed
   * `revision` (at once if it already has). With `everyone`, every agent
   * also answers at once wherever it is (a fresh LAG for a listing).
   */
  probe(revision: number, options: { everyone?: boolean } = {}): void {
    const probe: NodeProbe = options.everyone ? { revision } : { revision, whenProgrammed: true };
    this.p.connection.nc.publish(NODE_PROBE_SUBJECT, new TextEncoder().encode(JSON.stringify(probe)));
  }

  /** One node with its condition judged now, or undefined when unknown or expired. */
  node(name: string): NodeView | undefined {
    const r = this.records.get(name);
    return r ? this.view(name, r, this.now()) : undefined;
  }

  /** Every known node, by name, with its condition judged now. */
  nodes(): NodeView[] {
    const now = this.now();
    const out: NodeView[] = [];
    for (const [name, r] of this.records) {
      const v = this.view(name, r, now);
      if (v) out.push(v);
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  private view(name: string, r: { status: NodeStatus; heardAt: Date }, now: number): NodeView | undefined {
    if (now - r.heardAt.getTime() > this.p.recordTtlMs) return undefined;
    const answer = this.progress.get(name);
    return {
      name,
      status: r.status,
      heardAt: r.heardAt,
      programmedRevision: Math.max(r.status.programmedRevision, answer?.revision ?? 0),
      answeredAt: answer?.at,
      condition: nodeCondition({ heartbeatIntervalMs: r.status.heartbeatIntervalMs, heardAt: r.heardAt, now: new Date(now) }),
    };
  }

  private changed(node?: string): void {
    for (const fn of this.listeners) {
      try {
        fn(node);
      } catch (err) {
        this.p.logger.error({ err }, 'node directory listener threw');
      }
    }
  }

  /** One list+watch; a new one (a fresh list) whenever it ends or cannot start. */
  private async watch(): Promise<void> {
    const gen = ++this.generation;
    const seen = new Set<string>();
    let listing = true;
    let resolveSynced!: () => void;
    const synced = new Promise<void>((r) => (resolveSynced = r));
    const again = (err: unknown): void => {
      if (this.stopped || gen !== this.generation) return;
      this.p.logger.debug({ err }, 'nodes bucket watch ended; listing again');
      this.retry = setTimeout(() => void this.watch(), RELIST_DELAY_MS);
      resolveSynced();
    };
    try {
      this.feed = await openFeed({
        nc: this.p.connection.nc,
        bucket: NODES_BUCKET,
        filter: '>',
        onEntry: (e) => {
          if (gen !== this.generation) return;
          if (listing) seen.add(e.key);
          if (e.operation !== 'PUT') {
            this.records.delete(e.key);
          } else {
            try {
              this.records.set(e.key, { status: nodeStatusCodec.decode(e.value), heardAt: new Date(e.time ?? this.now()) });
            } catch (err) {
              this.undecodable++;
              this.p.logger.warn({ err, node: e.key }, 'undecodable node record; ignored');
            }
          }
          if (!listing) this.changed(e.key);
        },
        onCaughtUp: () => {
          if (gen !== this.generation) return;
          listing = false;
          for (const k of [...this.records.keys()]) if (!seen.has(k)) this.records.delete(k);
          this.changed();
          resolveSynced();
        },
        onClosed: again,
      });
    } catch (err) {
      again(err);
    }
    return synced;
  }
}
