import type { NatsConnection } from '@nats-io/nats-core';
import type { FeedBase } from './feed-snapshot.js';
import { openFeed, type Feed, type FeedEntry } from './kv-feed.js';

/**
 * A base read the classic way: the last record of every key under each
 * prefix, through one short-lived ordered consumer per prefix. Each key is at
 * least as new as `revision` (the stream's last revision before the lists
 * began); deletion markers are kept as tombstones.
 */
export async function listBase(p: { nc: NatsConnection; bucket: string; prefixes: readonly string[]; revision: number; timeoutMs?: number }): Promise<FeedBase> {
  const records = new Map<string, FeedEntry>();
  const tombstones = new Map<string, number>();
  for (const prefix of p.prefixes) {
    let feed: Feed | undefined;
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out listing ${prefix}`)), p.timeoutMs ?? 60_000);
        openFeed({
          nc: p.nc,
          bucket: p.bucket,
          filter: `${prefix}>`,
          onEntry: (e) => {
            if (e.operation === 'PUT') {
              records.set(e.key, e);
              tombstones.delete(e.key);
            } else {
              records.delete(e.key);
              tombstones.set(e.key, e.revision);
            }
          },
          onCaughtUp: () => resolve(),
          onClosed: (err) => reject(err instanceof Error ? err : new Error(`feed closed while listing ${prefix}`)),
        }).then((f) => {
          feed = f;
          if (done) f.stop();
        }, reject);
      });
    } finally {
      done = true;
      if (timer) clearTimeout(timer);
      feed?.stop();
    }
  }
  return { source: 'list', revision: p.revision, records, tombstones };
}
