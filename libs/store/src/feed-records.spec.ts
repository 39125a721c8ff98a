import { describe, expect, it } from 'vitest';
import { chunkRecords, decodeRecords, encodeRecords, FeedRecordsError, packRecordsSync, unpackRecords } from './feed-records.js';
import { decodeHead, encodeHead, type FeedHead } from './feed-snapshot.js';
import type { FeedEntry } from './kv-feed.js';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const put = (key: string, revision: number, value: string): FeedEntry => ({ key, revision, operation: 'PUT', value: bytes(value) });
const del = (key: string, revision: number): FeedEntry => ({ key, revision, operation: 'DEL', value: new Uint8Array(0) });
const view = (es: FeedEntry[]): string[] => es.map((e) => `${e.operation} ${e.key}@${e.revision}=${new TextDecoder().decode(e.value)}`);

describe('feed record blocks', () => {
  const cases = [
    { name: 'empty block', entries: [] as FeedEntry[] },
    { name: 'puts and deletes keep their order', entries: [put('services.a.x', 3, 'v1'), del('services.a.y', 4), put('endpoints.a.x', 9, '')] },
    { name: 'a revision past 2^32', entries: [put('services.a.x', 2 ** 40 + 7, 'big')] },
    { name: 'UTF-8 in values and binary bytes', entries: [put('services.a.x', 1, 'ünïcode\u0000\u00ff')] },
  ];
  for (const c of cases) {
    it(`${c.name}: encode/decode`, () => expect(view(decodeRecords(encodeRecords(c.entries)))).toEqual(view(c.entries)));
    it(`${c.name}: pack/unpack`, () => expect(view(unpackRecords(packRecordsSync(c.entries)))).toEqual(view(c.entries)));
  }

  it('a PURGE is stored as a deletion', () => {
    const [e] = decodeRecords(encodeRecords([{ key: 'k', revision: 1, operation: 'PURGE', value: bytes('ignored') }]));
    expect(e).toMatchObject({ key: 'k', operation: 'DEL', value: new Uint8Array(0) });
  });

  const damaged = [
    { name: 'truncated header', block: new Uint8Array([0, 5]) },
    { name: 'truncated value', block: encodeRecords([put('k', 1, 'value')]).subarray(0, 18) },
    { name: 'unknown operation', block: new Uint8Array([7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]) },
  ];
  for (const c of damaged) it(`refuses a ${c.name}`, () => expect(() => decodeRecords(c.block)).toThrow(FeedRecordsError));
  it('refuses bytes that are not compressed', () => expect(() => unpackRecords(bytes('plain text'))).toThrow(FeedRecordsError));

  it('chunks by raw size, never splitting a record', () => {
    const entries = Array.from({ length: 10 }, (_, i) => put(`k${i}`, i + 1, 'x'.repeat(100)));
    const chunks = chunkRecords(entries, 360); // 117 bytes each: three fit
    expect(chunks.map((c) => c.length)).toEqual([3, 3, 3, 1]);
    expect(chunks.flat()).toEqual(entries);
    expect(chunkRecords([put('huge', 1, 'y'.repeat(1000))], 10).map((c) => c.length)).toEqual([1]);
  });
});

describe('feed head', () => {
  const head: FeedHead = {
    format: 1,
    bucket: 'svcnet-state',
    streamCreated: '2026-12-03T10:00:00Z',
    prefixes: ['services.', 'endpoints.'],
    revision: 120,
    snapshot: { id: '100-abcd', revision: 100, chunks: 2, records: 10, bytes: 999 },
    deltaRecords: 1,
    writer: 'abcd',
    writtenAt: '2026-12-03T10:00:01Z',
  };
  it('round-trips with its delta', () => {
    const delta = packRecordsSync([put('services.a.b', 110, 'v')]);
    const decoded = decodeHead(encodeHead({ head, delta }));
    expect(decoded.head).toEqual(head);
    expect(view(unpackRecords(decoded.delta))).toEqual(['PUT services.a.b@110=v']);
  });
  it('refuses a truncated head', () => expect(() => decodeHead(encodeHead({ head, delta: new Uint8Array(0) }).subarray(0, 10))).toThrow(FeedRecordsError));
});
