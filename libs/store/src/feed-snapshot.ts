import type { NatsConnection } from '@nats-io/nats-core';
import type { StoredMsg } from '@nats-io/jetstream';
import type { JetStreamManager } from '@nats-io/jetstream';
import { FeedRecordsError, unpackRecords } from './feed-records.js';
import type { FeedEntry } from './kv-feed.js';
import { jsmFor, kvStreamName } from './kv-feed.js';

/**
 * The change feed's shared snapshots, kept by the state service in the feed
 * bucket so that a starting agent reads one compressed copy of the state
 * instead of listing every key through its own JetStream consumer:
 *
 *   `head`           which snapshot is current, plus every change since it (a small delta)
 *   `snap.<id>.<i>`  the snapshot itself, in compressed record blocks of < 1 MiB
 *
 * A head is exact at `revision`: every record of the covered prefixes at that
 * revision of the state bucket, nothing else. Clients check the stream's
 * creation time, so a snapshot of a stream that was recreated is never used.
 */
export const FEED_HEAD_KEY = 'head';
export const FEED_FORMAT = 1;

/** The key of one snapshot chunk. */
export function snapshotChunkKey(id: string, index: number): string {
  return `snap.${id}.${index}`;
}

/** What the head says (its JSON part). */
export interface FeedHead {
  format: number;
  /** The state bucket the snapshot was taken of, and its stream's creation time. */
  bucket: string;
  streamCreated: string;
  /** Key prefixes covered (`services.`, `endpoints.`). */
  prefixes: string[];
  /** The state is exact at this revision: snapshot + delta. */
  revision: number;
  snapshot: { id: string; revision: number; chunks: number; records: number; bytes: number };
  /** Changes (PUT and DEL) after the snapshot, up to `revision`. */
  deltaRecords: number;
  writer: string;
  writtenAt: string;
}

/** A head and its delta block (compressed records). */
export interface EncodedHead {
  head: FeedHead;
  delta: Uint8Array;
}

/** The head's layout: u32 JSON length · JSON · compressed delta block. */
export function encodeHead(h: EncodedHead): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(h.head));
  const out = new Uint8Array(4 + json.length + h.delta.length);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 4);
  out.set(h.delta, 4 + json.length);
  return out;
}

export function decodeHead(bytes: Uint8Array): EncodedHead {
  if (bytes.length < 4) throw new FeedRecordsError('feed head too short');
  const n = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, true);
  if (4 + n > bytes.length) throw new FeedRecordsError('feed head truncated');
  let head: FeedHead;
  try {
    head = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + n))) as FeedHead;
  } catch (err) {
    throw new FeedRecordsError(`feed head is not JSON: ${(err as Error).message}`);
  }
  return { head, delta: bytes.subarray(4 + n) };
}

/**
 * A complete state the feed starts from: a snapshot (exact at `revision`) or
 * a list (each key at least as new as `revision`; deletion markers kept so a
 * buffered older change of a deleted key is not applied).
 */
export interface FeedBase {
  /** `snapshot <id>` or `list`, for logs. */
  source: string;
  revision: number;
  /** Live records (PUT) by key. Shared and read-only: never mutate. */
  records: ReadonlyMap<string, FeedEntry>;
  /** Deleted keys and the revision of their deletion (lists only). */
  tombstones: ReadonlyMap<string, number>;
}

/** Why a snapshot cannot be used; the caller lists instead (or tries a newer head). */
export class SnapshotUnavailableError extends Error {
  override readonly name = 'SnapshotUnavailableError';
  /** A newer head may fix it (a chunk vanished under us). */
  readonly retryable: boolean;
  constructor(message: string, options: { retryable?: boolean; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.retryable = options.retryable ?? false;
  }
}

/** The bytes a base is assembled from: head (with its stream sequence) and chunks, in order. */
export interface BaseParts {
  headSeq: number;
  head: FeedHead;
  delta: Uint8Array;
  chunks: Uint8Array[];
}

/** Inflates and merges snapshot chunks and the head's delta into a base. */
export function assembleBase(parts: BaseParts): FeedBase {
  const records = new Map<string, FeedEntry>();
  for (const chunk of parts.chunks) for (const e of unpackRecords(chunk)) records.set(e.key, e);
  for (const e of unpackRecords(parts.delta)) {
    if (e.operation === 'PUT') records.set(e.key, e);
    else records.delete(e.key);
  }
  return { source: `snapshot ${parts.head.snapshot.id} + ${parts.head.deltaRecords}`, revision: parts.head.revision, records, tombstones: new Map() };
}

/** How long the head's direct get may take before the stream leader is asked instead (see readLast). */
const DIRECT_GET_PATIENCE_MS = 1_500;

/**
 * Reads the last value of a key: from any replica first (a direct get, which
 * spreads a fleet's reads over the servers), from the stream leader when the
 * replica asked does not have it (it may be behind). With `patient: false`
 * the direct get is abandoned after a moment: a bucket that does not exist
 * never answers one (the request would wait for its whole deadline).
 */
async function readLast(jsm: JetStreamManager, bucket: string, key: string, patient: boolean): Promise<StoredMsg | null> {
  const stream = kvStreamName(bucket);
  const subject = `$KV.${bucket}.${key}`;
  const get = jsm.direct.getMessage(stream, { last_by_subj: subject }).catch(() => null);
  let timer: NodeJS.Timeout | undefined;
  const direct = patient
    ? await get
    : await Promise.race([get, new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), DIRECT_GET_PATIENCE_MS)))]).finally(() =>
        clearTimeout(timer),
      );
  if (direct) return direct;
  return jsm.streams.getMessage(stream, { last_by_subj: subject }).catch((err: unknown) => {
    if (/no message found|not found/i.test((err as Error).message)) return null;
    throw err;
  });
}

function isDeletion(m: StoredMsg): boolean {
  const op = m.header?.get('KV-Operation');
  return op === 'DEL' || op === 'PURGE';
}

/** Parameters of {@link readFeedHead} and {@link readFeedBase}. */
export interface ReadFeedParams {
  nc: NatsConnection;
  feedBucket: string;
  /** The state bucket and its stream's creation time (from stream info). */
  stateBucket: string;
  streamCreated: string;
  /** Prefixes the reader needs; the snapshot must cover every one. */
  prefixes: readonly string[];
}

/** The current head, checked against what the reader needs. */
export async function readFeedHead(p: ReadFeedParams): Promise<{ seq: number; head: FeedHead; delta: Uint8Array }> {
  const jsm = await jsmFor(p.nc);
  const m = await readLast(jsm, p.feedBucket, FEED_HEAD_KEY, false);
  if (!m || isDeletion(m)) throw new SnapshotUnavailableError('no snapshot has been written yet');
  const { head, delta } = decodeHead(m.data);
  if (head.format !== FEED_FORMAT) throw new SnapshotUnavailableError(`snapshot format ${head.format} is not ${FEED_FORMAT}`);
  if (head.bucket !== p.stateBucket || head.streamCreated !== p.streamCreated) {
    throw new SnapshotUnavailableError(`the snapshot is of another ${head.bucket} stream (created ${head.streamCreated})`);
  }
  const missing = p.prefixes.filter((x) => !head.prefixes.includes(x));
  if (missing.length > 0) throw new SnapshotUnavailableError(`the snapshot does not cover ${missing.join(', ')}`);
  return { seq: m.seq, head, delta };
}

/**
 * Fetches the chunks of the head's snapshot (in parallel) and assembles the
 * base. `assemble` is injectable so a process that simulates many agents can
 * share the pure decoding of identical bytes; every byte is still fetched.
 */
export async function readFeedBase(
  p: ReadFeedParams & { assemble?: (parts: BaseParts) => FeedBase; cachedChunks?: { id: string; chunks: Uint8Array[] } },
): Promise<{ base: FeedBase; parts: BaseParts }> {
  const { seq, head, delta } = await readFeedHead(p);
  const jsm = await jsmFor(p.nc);
  let chunks: Uint8Array[];
  if (p.cachedChunks?.id === head.snapshot.id) {
    chunks = p.cachedChunks.chunks;
  } else {
    chunks = await Promise.all(
      Array.from({ length: head.snapshot.chunks }, async (_, i) => {
        const m = await readLast(jsm, p.feedBucket, snapshotChunkKey(head.snapshot.id, i), true);
        if (!m || isDeletion(m)) throw new SnapshotUnavailableError(`snapshot ${head.snapshot.id} chunk ${i} is gone`, { retryable: true });
        return m.data;
      }),
    );
  }
  const parts: BaseParts = { headSeq: seq, head, delta, chunks };
  try {
    return { base: (p.assemble ?? assembleBase)(parts), parts };
  } catch (err) {
    if (err instanceof FeedRecordsError) throw new SnapshotUnavailableError(`snapshot ${head.snapshot.id} is damaged: ${err.message}`, { cause: err });
    throw err;
  }
}
