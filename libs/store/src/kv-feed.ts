import {
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type StreamInfo,
} from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';

/** One record of a KV bucket's stream, as the change feed delivers it. */
export interface FeedEntry {
  key: string;
  /** The stream sequence: NATS KV's revision. */
  revision: number;
  operation: 'PUT' | 'DEL' | 'PURGE';
  value: Uint8Array;
  /** When the NATS server stored it (ms since the epoch), where known. */
  time?: number;
}

export interface OpenFeedParams {
  nc: NatsConnection;
  bucket: string;
  /** A key filter (`services.*.*`); one subject, so it works on nats-server 2.9. */
  filter: string;
  /** Undefined: the last record of every key (a list). Else: every record from here on. */
  startRevision?: number;
  onEntry(entry: FeedEntry): void;
  /** Called once, when the records pending at creation have all been delivered. */
  onCaughtUp(): void;
  /** The consumer ended without stop() being called (server gone, consumer deleted…). */
  onClosed(err?: unknown): void;
}

/** A running feed; stop() is idempotent. */
export interface Feed {
  stop(): void;
}

const jsClients = new WeakMap<NatsConnection, JetStreamClient>();
const jsmClients = new WeakMap<NatsConnection, Promise<JetStreamManager>>();
function jsFor(nc: NatsConnection): JetStreamClient {
  let js = jsClients.get(nc);
  if (!js) {
    js = jetstream(nc);
    jsClients.set(nc, js);
  }
  return js;
}

/** One JetStream manager per connection (creating one asks the server for its JetStream info). */
export function jsmFor(nc: NatsConnection): Promise<JetStreamManager> {
  let jsm = jsmClients.get(nc);
  if (!jsm) {
    jsm = jetstreamManager(nc);
    jsm.catch(() => jsmClients.delete(nc));
    jsmClients.set(nc, jsm);
  }
  return jsm;
}

/** The bucket's stream info, without subjects. */
export async function streamInfo(nc: NatsConnection, bucket: string): Promise<StreamInfo> {
  const jsm = await jsmFor(nc);
  return jsm.streams.info(kvStreamName(bucket));
}

/** Stream name behind a KV bucket. */
export function kvStreamName(bucket: string): string {
  return `KV_${bucket}`;
}

function toEntry(m: JsMsg, prefixLength: number): FeedEntry {
  const op = m.headers?.get('KV-Operation');
  return {
    key: m.subject.substring(prefixLength),
    revision: m.seq,
    operation: op === 'DEL' || op === 'PURGE' ? op : 'PUT',
    value: m.data,
    time: m.time.getTime(),
  };
}

/**
 * Opens an ordered push consumer on a KV bucket's stream: the primitive behind
 * both list and watch. We use JetStream directly rather than `kv.watch()` so we
 * know when the initial records are done (`pending === 0`) and control resume.
 */
export async function openFeed(params: OpenFeedParams): Promise<Feed> {
  const prefix = `$KV.${params.bucket}.`;
  const js = jsFor(params.nc);
  const consumer = await js.consumers.getPushConsumer(kvStreamName(params.bucket), {
    filter_subjects: `${prefix}${params.filter}`,
    ...(params.startRevision !== undefined
      ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: Math.max(1, params.startRevision) }
      : { deliver_policy: DeliverPolicy.LastPerSubject }),
  });
  const info = await consumer.info(true);
  let caughtUp = false;
  let stopped = false;
  if (info.num_pending === 0) {
    caughtUp = true;
    params.onCaughtUp();
  }
  const messages = await consumer.consume({
    callback: (m) => {
      if (stopped) return;
      const entry = toEntry(m, prefix.length);
      params.onEntry(entry);
      if (caughtUp) return;
      if (m.info.pending === 0) {
        caughtUp = true;
        params.onCaughtUp();
      }
    },
  });
  messages.closed().then(
    (err) => {
      if (!stopped) params.onClosed(err ?? undefined);
    },
    (err: unknown) => {
      if (!stopped) params.onClosed(err);
    },
  );
  return {
    stop: () => {
      if (stopped) return;
      stopped = true;
      messages.stop();
      // Ordered consumers are ephemeral; deleting now spares the server 5 minutes
      // of an idle consumer. A failure here only means the server is gone.
      consumer.delete().catch(() => undefined);
    },
  };
}

/**
 * Reads the last record of every key matching the filter, once. Returns the
 * live (PUT) entries and the highest revision seen.
 */
export async function readSnapshot(params: {
  nc: NatsConnection;
  bucket: string;
  filter: string;
  timeoutMs?: number;
}): Promise<{ entries: FeedEntry[]; revision: number }> {
  const entries: FeedEntry[] = [];
  let revision = 0;
  let feed: Feed | undefined;
  let done = false;
  let timer: NodeJS.Timeout | undefined;
  try {
    const info = await streamInfo(params.nc, params.bucket);
    revision = info.state.last_seq;
    await new Promise<void>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error('timed out reading a snapshot')), params.timeoutMs ?? 30_000);
      openFeed({
        nc: params.nc,
        bucket: params.bucket,
        filter: params.filter,
        onEntry: (e) => {
          revision = Math.max(revision, e.revision);
          if (e.operation === 'PUT') entries.push(e);
        },
        onCaughtUp: () => resolve(),
        onClosed: (err) => reject(err instanceof Error ? err : new Error('feed closed while listing')),
      }).then(
        (f) => {
          feed = f;
          // onCaughtUp can fire before openFeed returns (nothing pending).
          if (done) f.stop();
        },
        reject,
      );
    });
  } finally {
    done = true;
    if (timer) clearTimeout(timer);
    feed?.stop();
  }
  return { entries, revision };
}
