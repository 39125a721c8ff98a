import { describe, expect, it } from 'vitest';
import { ListPager, type ListQuery, type ListSnapshot } from './list-pager.js';

const query: ListQuery = { kind: 'Service', namespace: 'default', allNamespaces: false, labelSelector: '' };

function snapshot(names: string[], revision: number): ListSnapshot<string> {
  return { entries: names.map((n) => ({ key: `default/${n}`, object: n })), revision };
}

describe('ListPager', () => {
  it('cuts a list into chunks from one snapshot, read once', async () => {
    const pager = new ListPager();
    let reads = 0;
    const read = async () => (reads++, snapshot(['a', 'b', 'c', 'd', 'e'], 10));
    const seen: string[] = [];
    let token = '';
    let chunks = 0;
    do {
      const c = await pager.page(query, 2, token, read);
      seen.push(...c.items);
      expect(c.revision).toBe(10);
      token = c.continueToken;
      chunks++;
    } while (token);
    expect(seen).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(chunks).toBe(3);
    expect(reads).toBe(1);
    expect(pager.cursorCount).toBe(0);
  });

  it('limit 0 returns everything at once', async () => {
    const c = await new ListPager().page(query, 0, '', async () => snapshot(['a', 'b'], 3));
    expect(c).toMatchObject({ items: ['a', 'b'], continueToken: '', remaining: 0 });
  });

  it('continues after the last key from a fresh read when the snapshot is gone', async () => {
    let now = 0;
    const pager = new ListPager({ cursorTtlMs: 1000, now: () => now });
    const first = await pager.page(query, 2, '', async () => snapshot(['a', 'b', 'c', 'd'], 10));
    now = 5000; // expired
    const next = await pager.page(query, 2, first.continueToken, async () => snapshot(['a', 'b', 'bb', 'd'], 12));
    expect(next.items).toEqual(['bb', 'd']);
    expect(next.revision).toBe(12);
  });

  it('reports undecodable records in their chunk', async () => {
    const read = async (): Promise<ListSnapshot<string>> => ({
      entries: [
        { key: 'default/a', object: 'a' },
        { key: 'default/b', broken: { namespace: 'default', name: 'b', revision: 4, error: 'bad' } },
        { key: 'default/c', object: 'c' },
      ],
      revision: 5,
    });
    const pager = new ListPager();
    const first = await pager.page(query, 2, '', read);
    expect(first.items).toEqual(['a']);
    expect(first.broken.map((b) => b.name)).toEqual(['b']);
    expect((await pager.page(query, 2, first.continueToken, read)).items).toEqual(['c']);
  });

  const bad: { name: string; token: (good: string) => string; message: string }[] = [
    { name: 'not base64 JSON', token: () => '%%%', message: 'cannot be decoded' },
    { name: 'JSON of another shape', token: () => Buffer.from('{"v":2}').toString('base64url'), message: 'cannot be decoded' },
    { name: 'too long', token: () => 'a'.repeat(5000), message: 'is too long' },
  ];
  for (const c of bad) {
    it(`refuses a continue token that is ${c.name}`, async () => {
      const pager = new ListPager();
      const err = await pager.page(query, 1, c.token(''), async () => snapshot(['a'], 1)).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'continue' });
      expect((err as Error).message).toContain(c.message);
    });
  }

  it('refuses a token used for another list', async () => {
    const pager = new ListPager();
    const first = await pager.page(query, 1, '', async () => snapshot(['a', 'b'], 1));
    const err = await pager
      .page({ ...query, labelSelector: 'app=x' }, 1, first.continueToken, async () => snapshot(['a', 'b'], 1))
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'continue' });
  });

  it('keeps a bounded number of snapshots', async () => {
    const pager = new ListPager({ maxCursors: 3 });
    for (let i = 0; i < 10; i++) await pager.page(query, 1, '', async () => snapshot(['a', 'b'], i));
    expect(pager.cursorCount).toBe(3);
  });
});
