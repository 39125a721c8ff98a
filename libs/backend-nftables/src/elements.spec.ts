import { describe, expect, it } from 'vitest';
import { digestWith, elementBytes, elementHashes, elementText, EMPTY_DIGEST, type NftElement } from './elements.js';

const hex = (b: number[]) => Buffer.from(b).toString('hex');

describe('elements', () => {
  // Byte layouts as `nft` stores them (read back from the kernel over netlink).
  it.each<{ name: string; e: NftElement; text: string; key: string; data: string }>([
    {
      name: 'dispatch element with a verdict',
      e: { map: 'service-ips', key: ['10.96.0.10', 'tcp', 80], data: 'goto cluster-2', comment: 'default/web:http' },
      text: '10.96.0.10 . tcp . 80 comment "default/web:http" : goto cluster-2',
      key: '0a60000a0600000000500000',
      data: 'fffffffc' + Buffer.from('cluster-2\0\0\0').toString('hex'),
    },
    {
      name: 'endpoint element: the numgen index in host order',
      e: { map: 'cluster-endpoints-tcp', key: ['10.96.0.10', 80, 1], data: { ip: '10.244.1.3', port: 8080 }, comment: 'default/web:http' },
      text: '10.96.0.10 . 80 . 1 comment "default/web:http" : 10.244.1.3 . 8080',
      key: '0a60000a0050000001000000',
      data: '0af401031f900000',
    },
    {
      name: 'a drop verdict has no chain',
      e: { map: 'service-nodeports', key: ['udp', 30053], data: 'drop', comment: 'a/b:' },
      text: 'udp . 30053 comment "a/b:" : drop',
      key: '1100000075650000',
      data: '00000000',
    },
    {
      name: 'hairpin set element: no data',
      e: { map: 'hairpin-ips', key: ['10.96.0.10', 'tcp', 80, '10.244.1.2', '10.244.1.2'], comment: 'default/web:' },
      text: '10.96.0.10 . tcp . 80 . 10.244.1.2 . 10.244.1.2 comment "default/web:"',
      key: '0a60000a06000000005000000af401020af40102',
      data: '',
    },
  ])('$name', ({ e, text, key, data }) => {
    expect(elementText(e)).toBe(text);
    const b = elementBytes(e);
    expect(hex(b.key)).toBe(key);
    expect(hex(b.data)).toBe(data);
  });

  it('comments lose quotes and backslashes (nft cannot escape them) and are cut short', () => {
    const e: NftElement = { map: 'hairpin-nodeports', key: ['tcp', 1, '1.2.3.4', '1.2.3.4'], comment: `a"b\\c${'x'.repeat(200)}` };
    expect(elementText(e)).toMatch(/comment "abcx{117}"$/);
  });

  it('the digest counts, and adding then removing an element restores it', () => {
    const a: NftElement = { map: 'cluster-endpoints-tcp', key: ['10.96.0.10', 80, 0], data: { ip: '10.244.1.2', port: 8080 }, comment: 'x' };
    const b: NftElement = { ...a, data: { ip: '10.244.1.3', port: 8080 } };
    const d = digestWith(digestWith(EMPTY_DIGEST, a, 1), b, 1);
    expect(d.count).toBe(2);
    expect(digestWith(digestWith(d, b, -1), a, -1)).toEqual(EMPTY_DIGEST);
    // Same key, another pod: another hash.
    expect(elementHashes(a)).not.toEqual(elementHashes(b));
    // Data swapped between two keys changes the digest (key and data are bound together).
    const a1 = { ...a, key: ['10.96.0.10', 80, 1] };
    const straight = digestWith(digestWith(EMPTY_DIGEST, a, 1), { ...b, key: a1.key }, 1);
    const swapped = digestWith(digestWith(EMPTY_DIGEST, b, 1), { ...a, key: a1.key }, 1);
    expect(straight).not.toEqual(swapped);
  });
});
