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
  /** A verdict (`goto cluster-tcp-2`, `drop`) or a DNAT target; none for sets. */
  data?: string | { readonly ip: string; readonly port: number };
  /** `<ns>/<name>:<port>` of the service port the element belongs to. */
  comment: string;
}

export function quote(comment: string): string {
  // nft keeps at most 128 bytes of comment; quotes and backslashes cannot be escaped in it.
  if (comment.length <= 120 && comment.indexOf('"') < 0 && comment.indexOf('\\') < 0) return `"${comment}"`;
  return `"${comment.replace(/["\\]/g, '').slice(0, 120)}"`;
}

export function elementKeyText(e: NftElement): string {
  return e.key.join(' . ');
}

function dataText(data: NonNullable<NftElement['data']>): string {
  return typeof data === 'string' ? data : `${data.ip} . ${data.port}`;
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
  let n = 0;
  let part = 0;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c === 46) {
      n = (n << 8) | part;
      part = 0;
    } else part = part * 10 + c - 48;
  }
  return ((n << 8) | part) >>> 0;
}

/** A numgen result is stored in host byte order (little-endian): its bytes read big-endian. */
const bswap32 = (x: number) => (((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24)) >>> 0;

/** A string's bytes (ASCII chain names) as big-endian words, zero-padded to a multiple of 4. */
function pushString(out: number[], s: string): void {
  for (let i = 0; i < s.length; i += 4) {
    let w = 0;
    for (let j = 0; j < 4; j++) w = (w << 8) | (i + j < s.length ? s.charCodeAt(i + j) & 0xff : 0);
    out.push(w >>> 0);
  }
}

/**
 * The element's key and data as the kernel stores them, as big-endian 32-bit
 * words: each key field padded to 4 bytes; a verdict as its code then the
 * chain name; zero-padded.
 */
export function elementWords(e: NftElement): { key: number[]; data: number[] } {
  const spec = ELEMENT_MAP[e.map];
  const key: number[] = [];
  for (let i = 0; i < spec.key.length; i++) {
    const kind = spec.key[i];
    const v = e.key[i]!;
    if (kind === 'ip') key.push(ipv4ToU32(v as string));
    else if (kind === 'proto') key.push((PROTO_NUMBERS[v as string]! << 24) >>> 0);
    else if (kind === 'port') key.push(((v as number) << 16) >>> 0);
    else key.push(bswap32(v as number));
  }
  const data: number[] = [];
  if (typeof e.data === 'string') {
    const space = e.data.indexOf(' ');
    data.push(VERDICT_CODES[space < 0 ? e.data : e.data.slice(0, space)]!);
    if (space >= 0) pushString(data, e.data.slice(space + 1));
  } else if (e.data) {
    data.push(ipv4ToU32(e.data.ip), (e.data.port << 16) >>> 0);
  }
  return { key, data };
}

/** The same as bytes (for tests and for reading). */
export function elementBytes(e: NftElement): { key: number[]; data: number[] } {
  const bytes = (ws: number[]) => ws.flatMap((w) => [(w >>> 24) & 0xff, (w >>> 16) & 0xff, (w >>> 8) & 0xff, w & 0xff]);
  const { key, data } = elementWords(e);
  return { key: bytes(key), data: bytes(data) };
}

/** Sum of the words mod 2^32; with `rot`, of the words of the bytes rotated left by one. */
function wordSum(ws: readonly number[], rot: boolean): number {
  let sum = 0;
  const n = ws.length;
  for (let i = 0; i < n; i++) sum = (sum + (rot ? ((ws[i]! << 8) | (ws[(i + 1) % n]! >>> 24)) >>> 0 : ws[i]!)) >>> 0;
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
  const { key, data } = elementWords(e);
  return [mix(wordSum(key, false), wordSum(data, false)), mix(wordSum(key, true), wordSum(data, true))];
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
