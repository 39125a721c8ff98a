import { Validator } from 'ip-num';
import { IpFamily, invalidField } from '@svcnet/model';
import { familyBits, formatIp, parseIp } from './address.js';

/** A CIDR block normalised to its network address. */
export interface CidrBlock {
  readonly family: IpFamily;
  /** The network address. */
  readonly base: bigint;
  readonly prefixLength: number;
  /** Every address in the block, network and broadcast included. */
  readonly totalSize: bigint;
  /** Canonical text, e.g. `10.96.0.0/12` or `fd00::/108`. */
  readonly cidr: string;
}

const CIDR_EXAMPLE = 'must be a valid CIDR, (e.g. 10.96.0.0/12 or fd00:10:96::/108)';

/**
 * Parses `addr/prefix`. Host bits are cleared (`10.96.0.5/24` means
 * `10.96.0.0/24`), as Kubernetes' ParseCIDRSloppy does for these flags.
 */
export function parseCidr(text: string, field: string): CidrBlock {
  const slash = text.indexOf('/');
  if (slash < 0) throw invalidField(field, text, CIDR_EXAMPLE);
  const prefixText = text.slice(slash + 1);
  let address;
  try {
    address = parseIp(text.slice(0, slash), field);
  } catch (cause) {
    throw Object.assign(invalidField(field, text, CIDR_EXAMPLE), { cause });
  }
  const bits = familyBits(address.family);
  const prefixLength = Number(prefixText);
  if (!/^\d{1,3}$/.test(prefixText) || prefixLength > bits) throw invalidField(field, text, CIDR_EXAMPLE);
  // ip-num's notation check as a second opinion (startup only: it is not fast).
  const notationOk =
    address.family === IpFamily.IPv4 ? Validator.isValidIPv4CidrNotation(text)[0] : Validator.isValidIPv6CidrNotation(text)[0];
  if (!notationOk) throw invalidField(field, text, CIDR_EXAMPLE);
  const hostBits = BigInt(bits - prefixLength);
  const totalSize = 1n << hostBits;
  const base = (address.value >> hostBits) << hostBits;
  const cidr = `${formatIp({ family: address.family, value: base })}/${prefixLength}`;
  return { family: address.family, base, prefixLength, totalSize, cidr };
}

/**
 * An IPv4 CIDR in canonical form (`10.1.2.3/8` → `10.0.0.0/8`, as iptables-save
 * prints it), or undefined for anything else (IPv6, bad syntax): for backends
 * that program IPv4 only and skip the rest.
 */
export function canonicalIPv4Cidr(text: string): string | undefined {
  try {
    const block = parseCidr(text, 'cidr');
    return block.family === IpFamily.IPv4 ? block.cidr : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Parses one CIDR or a dual-stack pair `v4,v6` / `v6,v4` (the first is the
 * primary family). Two blocks of the same family are refused, as in Kubernetes.
 */
export function parseCidrList(text: string, field: string): CidrBlock[] {
  const parts = text.split(',').map((p) => p.trim());
  if (parts.length > 2) throw invalidField(field, text, 'at most two CIDRs may be given (one IPv4 and one IPv6)');
  const blocks = parts.map((p) => parseCidr(p, field));
  if (blocks.length === 2 && blocks[0]!.family === blocks[1]!.family) {
    throw invalidField(field, text, 'a dual-stack pair must have one IPv4 and one IPv6 CIDR');
  }
  return blocks;
}

/** True when the blocks share at least one address. */
export function cidrsOverlap(a: CidrBlock, b: CidrBlock): boolean {
  if (a.family !== b.family) return false;
  const aLast = a.base + a.totalSize - 1n;
  const bLast = b.base + b.totalSize - 1n;
  return a.base <= bLast && b.base <= aLast;
}

/** True when the address lies inside the block. */
export function cidrContains(block: CidrBlock, family: IpFamily, value: bigint): boolean {
  return family === block.family && value >= block.base && value < block.base + block.totalSize;
}

/** `a.b.c.d` as an unsigned 32-bit number, or undefined when it is not one. */
function ipv4Number(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return undefined;
    const octet = Number(p);
    if (octet > 255) return undefined;
    n = n * 256 + octet;
  }
  return n;
}

/**
 * True when `text` is `address/prefix` (of `family`, when given). Host bits may
 * be set, as kube-proxy's flags allow.
 */
export function isCidr(text: string, family?: IpFamily): boolean {
  try {
    const block = parseCidr(text, 'cidr');
    return family === undefined || block.family === family;
  } catch {
    return false;
  }
}

/**
 * True when the IPv4 address `ip` is inside `cidr` (a bare address means /32).
 * Plain 32-bit arithmetic: rule tracers and renderers call it per packet and per
 * endpoint. Anything that is not IPv4 on both sides is outside.
 */
export function ipInCidr(ip: string, cidr: string): boolean {
  const slash = cidr.indexOf('/');
  const base = ipv4Number(slash < 0 ? cidr : cidr.slice(0, slash));
  const addr = ipv4Number(ip);
  const bitsText = slash < 0 ? '32' : cidr.slice(slash + 1);
  const bits = Number(bitsText);
  if (base === undefined || addr === undefined || !/^\d{1,2}$/.test(bitsText) || bits > 32) return false;
  const size = 2 ** (32 - bits);
  return Math.floor(addr / size) === Math.floor(base / size);
}
