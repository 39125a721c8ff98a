import { isIPv6 } from 'node:net';
import { IpFamily, invalidField } from '@svcnet/model';

/** An IP address as a family plus its numeric value (bigint: IPv6 needs 128 bits). */
export interface IpAddress {
  readonly family: IpFamily;
  readonly value: bigint;
}

/** Bits per address family. */
export function familyBits(family: IpFamily): number {
  return family === IpFamily.IPv4 ? 32 : 128;
}

const IP_EXAMPLE = 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)';

/**
 * Parses an IPv4 or IPv6 address. Rejects zones, prefixes and IPv4 octets with
 * leading zeros (ambiguous: octal in some tools), as Kubernetes does.
 */
export function parseIp(text: string, field: string): IpAddress {
  const s = text.trim();
  if (s === '' || s !== text) throw invalidField(field, text, IP_EXAMPLE);
  if (s.includes(':')) {
    // Embedded IPv4 (::ffff:1.2.3.4) and zones are not service addresses.
    if (!isIPv6(s) || s.includes('.') || s.includes('%')) throw invalidField(field, text, IP_EXAMPLE);
    return { family: IpFamily.IPv6, value: ipv6Value(s) };
  }
  const octets = s.split('.');
  const wellFormed = octets.length === 4 && octets.every((o) => /^(0|[1-9]\d{0,2})$/.test(o) && Number(o) <= 255);
  if (!wellFormed) throw invalidField(field, text, IP_EXAMPLE);
  // Plain arithmetic: this runs for every cached allocation on GetStatus, so no per-call parser objects.
  const value = octets.reduce((acc, o) => acc * 256 + Number(o), 0);
  return { family: IpFamily.IPv4, value: BigInt(value) };
}

/** Value of an already validated IPv6 text. */
function ipv6Value(s: string): bigint {
  const [head = '', tail] = s.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? 0 : 8 - headGroups.length - tailGroups.length;
  const groups = [...headGroups, ...Array<string>(zeros).fill('0'), ...tailGroups];
  let value = 0n;
  for (const g of groups) value = (value << 16n) | BigInt(parseInt(g, 16));
  return value;
}

/** Canonical text: dotted decimal for IPv4, RFC 5952 (lower case, longest zero run as `::`) for IPv6. */
export function formatIp(address: IpAddress): string {
  const { family, value } = address;
  if (family === IpFamily.IPv4) {
    return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join('.');
  }
  const groups: number[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(Number((value >> shift) & 0xffffn));
  // The longest run of two or more zero groups (the first one on a tie) becomes "::".
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  const head = hex.slice(0, bestStart).join(':');
  const tail = hex.slice(bestStart + bestLength).join(':');
  return `${head}::${tail}`;
}
