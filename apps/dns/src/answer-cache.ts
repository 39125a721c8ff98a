import type { Transport } from './message.js';

/** A finished answer: the wire bytes (any ID) and what the metrics need. */
export interface CachedAnswer {
  wire: Buffer;
  rcode: number;
  qtype: string;
  truncated: boolean;
}

/**
 * Answers already encoded, keyed by the query's bytes after its ID (flags,
 * question as spelt, EDNS options) and the transport: the same question gets
 * the same bytes back until the zone changes, so a repeated query costs a Map
 * lookup and a copy instead of a decode and an encode. Bounded: two
 * generations of at most `capacity` entries (a full one is demoted, the older
 * one dropped), so the hot set stays and memory does not grow with the
 * variety of names asked.
 */
export class AnswerCache {
  private current = new Map<string, CachedAnswer>();
  private previous = new Map<string, CachedAnswer>();
  private version = -1;
  private readonly capacity: number;
  hits = 0;
  misses = 0;

  constructor(capacity = 20_000) {
    this.capacity = capacity;
  }

  /** Entries held. */
  get size(): number {
    return this.current.size + this.previous.size;
  }

  /** The key of a query (undefined when it is too short to be one). */
  static key(msg: Buffer, transport: Transport): string | undefined {
    if (msg.length < 12) return undefined;
    return transport + msg.toString('latin1', 2);
  }

  /**
   * The cached answer for `key` with the query's ID written in, or undefined.
   * `version` names the state the answers came from (zone generation and
   * sync flag): when it moved on, everything is dropped.
   */
  get(key: string, version: number, id: number): CachedAnswer | undefined {
    if (version !== this.version) {
      this.clear(version);
      this.misses++;
      return undefined;
    }
    let hit = this.current.get(key);
    if (!hit) {
      hit = this.previous.get(key);
      if (hit) this.put(key, hit);
    }
    if (!hit) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    const wire = Buffer.allocUnsafe(hit.wire.length);
    hit.wire.copy(wire);
    wire.writeUInt16BE(id, 0);
    return { ...hit, wire };
  }

  set(key: string, version: number, answer: CachedAnswer): void {
    if (version !== this.version) this.clear(version);
    this.put(key, { ...answer, wire: Buffer.from(answer.wire) });
  }

  private put(key: string, answer: CachedAnswer): void {
    if (this.current.size >= this.capacity) {
      this.previous = this.current;
      this.current = new Map();
    }
    this.current.set(key, answer);
  }

  private clear(version: number): void {
    this.current = new Map();
    this.previous = new Map();
    this.version = version;
  }
}
