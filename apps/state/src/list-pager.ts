import { randomBytes } from 'node:crypto';
import { ErrorCode, SvcnetError, type ObjectKind } from '@svcnet/model';
import type { BrokenRecord } from '@svcnet/store';

/** One listed entry, in key order: an object or a record that cannot be decoded. */
export type ListEntry<T> = { key: string; object: T } | { key: string; broken: BrokenRecord };

/** A full, filtered, sorted list read at one revision. */
export interface ListSnapshot<T> {
  entries: ListEntry<T>[];
  revision: number;
}

/** What one chunk holds. */
export interface ListChunk<T> {
  items: T[];
  broken: BrokenRecord[];
  revision: number;
  /** Empty when nothing follows. */
  continueToken: string;
  remaining: number;
}

/** The request fields a continue token is bound to (Kubernetes refuses a token used with other parameters). */
export interface ListQuery {
  kind: ObjectKind;
  namespace: string;
  allNamespaces: boolean;
  labelSelector: string;
}

interface Token {
  v: 1;
  /** Cursor id on the replica that made it. */
  c: string;
  /** Revision of the snapshot. */
  r: number;
  /** Last key returned. */
  a: string;
  /** The query it belongs to. */
  q: string;
}

interface Cursor<T> {
  snapshot: ListSnapshot<T>;
  expiresAt: number;
}

export interface ListPagerParams {
  /** How long a chunked list's snapshot is kept for its next chunk. */
  cursorTtlMs?: number;
  /** Snapshots kept at once (the oldest is dropped first). */
  maxCursors?: number;
  now?: () => number;
}

function queryKey(q: ListQuery): string {
  return JSON.stringify([q.kind, q.allNamespaces ? '' : q.namespace, q.allNamespaces, q.labelSelector]);
}

function badToken(detail: string): SvcnetError {
  return new SvcnetError(ErrorCode.InvalidArgument, `Invalid value: the continue token ${detail}`, { field: 'continue' });
}

/**
 * Kubernetes' list chunking (`limit` + `continue`) over lists read whole from
 * NATS. The first chunk reads the store once; the snapshot is kept for a short
 * while so that later chunks are cut from the same revision, consistent and
 * without reading again. When the snapshot is gone (expired, or the token was
 * made by another state replica), the next chunk comes from a fresh read,
 * continuing after the last key returned — as the apiserver does when asked
 * for an inconsistent continuation.
 */
export class ListPager {
  private readonly cursors = new Map<string, Cursor<unknown>>();
  private readonly ttlMs: number;
  private readonly maxCursors: number;
  private readonly now: () => number;

  constructor(params: ListPagerParams = {}) {
    this.ttlMs = params.cursorTtlMs ?? 60_000;
    this.maxCursors = params.maxCursors ?? 32;
    this.now = params.now ?? Date.now;
  }

  async page<T>(query: ListQuery, limit: number, continueToken: string, read: () => Promise<ListSnapshot<T>>): Promise<ListChunk<T>> {
    this.expire();
    const q = queryKey(query);
    let snapshot: ListSnapshot<T>;
    let after = '';
    let cursorId: string;
    if (continueToken) {
      const token = this.decode(continueToken);
      if (token.q !== q) throw badToken('does not belong to this list (kind, namespace and label selector must stay the same)');
      after = token.a;
      cursorId = token.c;
      const cursor = this.cursors.get(token.c) as Cursor<T> | undefined;
      snapshot = cursor?.snapshot ?? (await read());
    } else {
      snapshot = await read();
      cursorId = randomBytes(9).toString('base64url');
    }
    const start = after ? firstAfter(snapshot.entries, after) : 0;
    const end = limit > 0 ? Math.min(snapshot.entries.length, start + limit) : snapshot.entries.length;
    const slice = snapshot.entries.slice(start, end);
    const remaining = snapshot.entries.length - end;
    let next = '';
    if (remaining > 0) {
      const last = slice[slice.length - 1]?.key ?? after;
      next = Buffer.from(JSON.stringify({ v: 1, c: cursorId, r: snapshot.revision, a: last, q } satisfies Token)).toString('base64url');
      this.keep(cursorId, snapshot);
    } else {
      this.cursors.delete(cursorId);
    }
    const items: T[] = [];
    const broken: BrokenRecord[] = [];
    for (const e of slice) {
      if ('object' in e) items.push(e.object);
      else broken.push(e.broken);
    }
    return { items, broken, revision: snapshot.revision, continueToken: next, remaining };
  }

  private keep(id: string, snapshot: ListSnapshot<unknown>): void {
    this.cursors.delete(id);
    this.cursors.set(id, { snapshot, expiresAt: this.now() + this.ttlMs });
    while (this.cursors.size > this.maxCursors) {
      const oldest = this.cursors.keys().next().value as string;
      this.cursors.delete(oldest);
    }
  }

  private expire(): void {
    const now = this.now();
    for (const [id, c] of this.cursors) if (c.expiresAt <= now) this.cursors.delete(id);
  }

  private decode(text: string): Token {
    if (text.length > 2048) throw badToken('is too long');
    let token: Partial<Token>;
    try {
      token = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as Partial<Token>;
    } catch {
      throw badToken('cannot be decoded; pass back the exact value of a list response');
    }
    if (token?.v !== 1 || typeof token.c !== 'string' || typeof token.a !== 'string' || typeof token.q !== 'string' || typeof token.r !== 'number') {
      throw badToken('cannot be decoded; pass back the exact value of a list response');
    }
    return token as Token;
  }

  /** Snapshots held (for tests). */
  get cursorCount(): number {
    return this.cursors.size;
  }
}

/** Index of the first entry whose key sorts after `key` (entries are sorted by key). */
function firstAfter(entries: readonly { key: string }[], key: string): number {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (entries[mid]!.key <= key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
