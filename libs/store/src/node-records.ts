import type { KV } from '@nats-io/kv';
import type { Subscription } from '@nats-io/nats-core';
import type { Logger } from 'pino';
import { pino } from 'pino';
import { NODES_BUCKET, type NodeStatus } from '@svcnet/model';
import { nodeStatusCodec } from '@svcnet/api';
import type { StoreConnection } from './connection.js';

/**
 * Progress probes: the state service publishes `{ "revision": R }` here when
 * someone waits for R; every agent answers on its own progress subject as
 * soon as it has programmed R (at once if it already has). Without
 * `whenProgrammed` an agent also answers at once wherever it is (a listing
 * wants every node's lag). Without waiters nobody publishes: the cost is paid
 * per wait, not per sync.
 */
export const NODE_PROBE_SUBJECT = 'svcnet.nodes.probe';

/** The subject a node's progress answers go to (only that node's agent may publish there). */
export function nodeProgressSubject(node: string): string {
  return `svcnet.nodes.progress.${node}`;
}

/** Every node's progress (what the state service subscribes to). */
export const NODE_PROGRESS_WILDCARD = 'svcnet.nodes.progress.>';

/** A probe and an answer, on the wire (JSON). */
export interface NodeProbe {
  revision: number;
  /** Answer only once `revision` is programmed (no answer at once from a node still behind). */
  whenProgrammed?: boolean;
}

/** Revisions waited for at once, per agent: beyond that the lowest is dropped (answered at the next one reached, or on a re-probe). */
const MAX_WANTED = 64;
export interface NodeProgressReport {
  node: string;
  programmedRevision: number;
}

/**
 * Opens (creating, with `replicas` copies) the nodes bucket. A record not
 * rewritten for `ttlMs` expires: the node is forgotten after that long down.
 */
export function openNodesBucket(connection: StoreConnection, options: { replicas?: number; ttlMs: number }): Promise<KV> {
  return connection.bucket(NODES_BUCKET, { history: 1, replicas: options.replicas ?? 1, ttl: options.ttlMs });
}

const enc = new TextEncoder();
const dec = new TextDecoder();

export interface NodeStatusPublisherParams {
  connection: StoreConnection;
  nodeName: string;
  /** The record as of now (called before every write). */
  status: () => NodeStatus;
  /** How often the record is rewritten (the heartbeat). */
  intervalMs: number;
  logger?: Logger;
}

/**
 * The agent's side of node status: its record in the nodes bucket, rewritten
 * every interval (and at once on request), and answers to progress probes.
 * Writes only its own key, as its NATS user is allowed to. Failures are
 * logged and retried on the next beat; the data plane never waits on them.
 */
export class NodeStatusPublisher {
  private readonly p: NodeStatusPublisherParams;
  private readonly log: Logger;
  private kv: KV | undefined;
  private timer: NodeJS.Timeout | undefined;
  private probeSub: Subscription | undefined;
  private writing: Promise<void> | undefined;
  private again = false;
  private stopped = true;
  /** Revisions probers wait for that we have not programmed yet, ascending. */
  private wanted: number[] = [];
  private programmed = 0;
  private registeredAt: Date | undefined;
  private failing = false;
  /** Records written (for tests and metrics). */
  writes = 0;

  constructor(params: NodeStatusPublisherParams) {
    this.p = params;
    this.log = (params.logger ?? pino({ level: 'silent' })).child({ component: 'node-status' });
  }

  /** When the node first registered (kept across restarts), once the old record was read. */
  get registered(): Date | undefined {
    return this.registeredAt;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.probeSub = this.p.connection.nc.subscribe(NODE_PROBE_SUBJECT, {
      callback: (err, m) => {
        if (err) return;
        try {
          const probe = JSON.parse(dec.decode(m.data)) as NodeProbe;
          if (typeof probe.revision === 'number') this.onProbe(probe.revision, probe.whenProgrammed === true);
        } catch {
          // Not a probe: ignore.
        }
      },
    });
    this.reportNow();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.probeSub?.unsubscribe();
    await this.writing?.catch(() => undefined);
  }

  /** The node has programmed everything up to `revision`: answers a waiting probe at once. */
  noteProgrammed(revision: number): void {
    if (revision <= this.programmed) return;
    this.programmed = revision;
    // One answer covers every waited-for revision reached by this sync.
    if (this.wanted.length > 0 && this.wanted[0]! <= revision) {
      this.wanted = this.wanted.filter((w) => w > revision);
      this.publishProgress();
    }
  }

  /** Writes the record now (something an operator should see changed), then keeps the beat. */
  reportNow(): void {
    if (this.stopped) return;
    if (this.writing) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.writing = this.write().finally(() => {
      this.writing = undefined;
      if (this.stopped) return;
      if (this.again) {
        this.again = false;
        this.reportNow();
        return;
      }
      this.timer = setTimeout(() => this.reportNow(), this.p.intervalMs);
    });
  }

  private onProbe(revision: number, whenProgrammed: boolean): void {
    const behind = revision > this.programmed;
    if (!behind || !whenProgrammed) this.publishProgress();
    if (!behind || this.wanted.includes(revision)) return;
    // Each waited-for revision is answered when reached, not only the highest: a wait for an
    // older change must not last until a newer one is programmed everywhere.
    this.wanted.push(revision);
    this.wanted.sort((a, b) => a - b);
    if (this.wanted.length > MAX_WANTED) this.wanted.splice(0, this.wanted.length - MAX_WANTED);
  }

  private publishProgress(): void {
    if (this.stopped) return;
    const report: NodeProgressReport = { node: this.p.nodeName, programmedRevision: this.programmed };
    try {
      this.p.connection.nc.publish(nodeProgressSubject(this.p.nodeName), enc.encode(JSON.stringify(report)));
    } catch (err) {
      this.log.debug({ err }, 'cannot publish progress');
    }
  }

  private async write(): Promise<void> {
    try {
      this.kv ??= await this.p.connection.kvm.open(NODES_BUCKET);
      if (!this.registeredAt) {
        // The first registration survives agent restarts (AGE is the node's, not the process').
        const old = await this.kv.get(this.p.nodeName).catch(() => null);
        const previous = old && old.operation === 'PUT' && old.value.length > 0 ? safeDecode(old.value) : undefined;
        this.registeredAt = previous?.registeredAt ?? new Date();
      }
      const status = { ...this.p.status(), registeredAt: this.registeredAt };
      await this.kv.put(this.p.nodeName, nodeStatusCodec.encode(status));
      this.writes++;
      if (this.failing) this.log.info({ node: this.p.nodeName }, 'node status reported again');
      this.failing = false;
    } catch (err) {
      if (!this.failing) this.log.warn({ err, node: this.p.nodeName }, 'cannot report node status (retrying every interval)');
      this.failing = true;
      // A bucket that did not exist yet (state service not started) is opened again next time.
      this.kv = undefined;
    }
  }
}

function safeDecode(b: Uint8Array): NodeStatus | undefined {
  try {
    return nodeStatusCodec.decode(b);
  } catch {
    return undefined;
  }
}
