/**
 * Map and set elements: how they are written for `nft -f` and how they are
 * encoded for the drift digest, which must match what the kernel stores
 * (netlink: each key field padded to 4 bytes; addresses and ports in network
 * byte order, a numgen index in host order — little-endian on every platform
 * svcnet runs on).
 */
import { ELEMENT_MAP, ELEMENT_MAPS, type ElementMapName } from './layout.js';

/** One element: key fields as the map's spec says (ip/proto: strings; port/index: numbers). */
export interface NftElement {
  map: ElementMapName;
  key: ReadonlyArray<string | number>;
  /** A verdict (`goto cluster-2`, `drop`) or a DNAT target `[ip, port]`; none for sets. */
  data?: string | readonly [string, number];
  /** `<ns>/<name>:<port>` of the service port the element belongs to. */
  comment: string;
}

export function quote(comment: string): string {
  // nft keeps at most 128 bytes of comment; quotes and backslashes cannot be escaped in it.
  return `"${comment.replace(/["\\]/g, '').slice(0, 120)}"`;
}

export function elementKeyText(e: NftElement): string {
  return e.key.join(' . ');
}

function dataText(data: NonNullable<NftElement['data']>): string {
  return typeof data === 'string' ? data : `${data[0]} . ${data[1]}`;
}

/** `<key> comment "…" : <data>`, as `add element` and a map's `elements = { … }` take it. */
export function elementText(e: NftElement): string {
  const base = `${elementKeyText(e)} comment ${quote(e.comment)}`;
  return e.data === undefined ? base : `${base} : ${dataText(e.data)}`;
}

/** What the element maps to (or '' for a set element): to tell a changed element from an unchanged one. */
export function elementValue(e: NftElement): string {
  return `${e.data === undefined ? '' : dataText(e.data)}|${e.comment}`;
}

const PROTO_NUMBERS: Readonly<Record<string, number>> = { tcp: 6, udp: 17 };
/** Kernel verdict codes (NF_DROP, NF_ACCEPT, NFT_JUMP, NFT_GOTO) as unsigned 32-bit. */
const VERDICT_CODES: Readonly<Record<string, number>> = { drop: 0, accept: 1, jump: 0xfffffffd, goto: 0xfffffffc };

export function ipv4ToU32(ip: string): number {
  const p = ip.split('.');
  return ((Number(p[0]) << 24) | (Number(p[1]) << 16) | (Number(p[2]) << 8) | Number(p[3])) >>> 0;
}

const be32 = (out: number[], x: number) => out.push((x >>> 24) & 0xff, (x >>> 16) & 0xff, (x >>> 8) & 0xff, x & 0xff);

/**
 * The element's key and data as the kernel stores them: each key field padded
 * to 4 bytes; a verdict as its code then the chain name; zero-padded to 4.
 */
export function elementBytes(e: NftElement): { key: number[]; data: number[] } {
  const spec = ELEMENT_MAP[e.map];
  const key: number[] = [];
  spec.key.forEach((kind, i) => {
    const v = e.key[i]!;
    if (kind === 'ip') be32(key, ipv4ToU32(String(v)));
    else if (kind === 'proto') key.push(PROTO_NUMBERS[String(v)]!, 0, 0, 0);
    else if (kind === 'port') key.push((Number(v) >>> 8) & 0xff, Number(v) & 0xff, 0, 0);
    // A numgen result is in host byte order: little-endian.
    else key.push(Number(v) & 0xff, (Number(v) >>> 8) & 0xff, (Number(v) >>> 16) & 0xff, (Number(v) >>> 24) & 0xff);
  });
  const data: number[] = [];
  if (typeof e.data === 'string') {
    const [verb, chain] = e.data.split(' ');
    be32(data, VERDICT_CODES[verb!]!);
    for (let i = 0; i < (chain ?? '').length; i++) data.push(chain!.charCodeAt(i) & 0xff);
  } else if (e.data) {
    be32(data, ipv4ToU32(e.data[0]));
    data.push((e.data[1] >>> 8) & 0xff, e.data[1] & 0xff, 0, 0);
  }
  while (data.length % 4) data.push(0);
  return { key, data };
}

/** Sum of big-endian 32-bit words mod 2^32, starting `rot` bytes in (wrapping around). */
function wordSum(bytes: readonly number[], rot: number): number {
  let sum = 0;
  const n = bytes.length;
  for (let i = 0; i + 3 < n; i += 4) {
    const b = (j: number) => bytes[(i + j + rot) % n]!;
    sum = (sum + ((b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3))) >>> 0;
  }
  return sum;
}

/** murmur3's finalizer: every input bit moves about half the output bits. */
function fmix(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/** Binds key and data sums together, so that data moved between keys changes the digest. */
function mix(k: number, d: number): number {
  return fmix((fmix(k) ^ d) >>> 0);
}

/**
 * The element's two hashes as the kernel probe computes them: key and data
 * summed as 32-bit words, then mixed; the second the same over the bytes
 * rotated by one.
 */
export function elementHashes(e: NftElement): [number, number] {
  const { key, data } = elementBytes(e);
  return [mix(wordSum(key, 0), wordSum(data, 0)), mix(wordSum(key, key.length ? 1 : 0), wordSum(data, data.length ? 1 : 0))];
}

/** An order-independent digest of a map's elements: count and two sums of per-element hashes (mod 2^32). */
export interface Digest {
  count: number;
  h1: number;
  h2: number;
}

export const EMPTY_DIGEST: Digest = { count: 0, h1: 0, h2: 0 };

/** The digest with `e` added (sign 1) or removed (sign -1). */
export function digestWith(d: Digest, e: NftElement, sign: 1 | -1): Digest {
  const [a, b] = elementHashes(e);
  return {
    count: d.count + sign,
    h1: (d.h1 + sign * a + 2 ** 32) % 2 ** 32,
    h2: (d.h2 + sign * b + 2 ** 32) % 2 ** 32,
  };
}

export type Digests = Readonly<Record<ElementMapName, Digest>>;

export function emptyDigests(): Record<ElementMapName, Digest> {
  return Object.fromEntries(ELEMENT_MAPS.map((m) => [m.name, EMPTY_DIGEST])) as Record<ElementMapName, Digest>;
}

export const sameDigest = (a: Digest | undefined, b: Digest | undefined): boolean =>
  a !== undefined && b !== undefined && a.count === b.count && a.h1 === b.h1 && a.h2 === b.h2;
