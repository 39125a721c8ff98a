import { isIPv4, isIPv6 } from 'node:net';

/** A DNS name as the zone keys it: lower case, no trailing dot (the root is ''). */
export function canonicalName(name: string): string {
  const trimmed = name.endsWith('.') ? name.slice(0, -1) : name;
  return trimmed.toLowerCase();
}

/** True when `name` (canonical) is `zone` itself or below it. */
export function inZone(name: string, zone: string): boolean {
  return name === zone || (name.length > zone.length && name.endsWith(zone) && name[name.length - zone.length - 1] === '.');
}

/** The names between `name` and `zone`, both included, from the longest: `a.b.zone`, `b.zone`, `zone`. */
export function namesUpTo(name: string, zone: string): string[] {
  const out: string[] = [];
  let current = name;
  for (;;) {
    out.push(current);
    if (current === zone) return out;
    const dot = current.indexOf('.');
    if (dot < 0) return out;
    current = current.slice(dot + 1);
  }
}

/** Expands an IPv6 address to its 32 hex nibbles (no separators). */
function ipv6Nibbles(ip: string): string {
  const [head = '', tail] = ip.split('::');
  const groups = (s: string): string[] => (s === '' ? [] : s.split(':'));
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  // An embedded IPv4 tail (::ffff:1.2.3.4) is two groups.
  const expand = (list: string[]): string[] =>
    list.flatMap((g) => {
      if (!g.includes('.')) return [g];
      const [a = 0, b = 0, c = 0, d = 0] = g.split('.').map(Number);
      return [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
    });
  const l = expand(left);
  const r = expand(right);
  const zeros = Array.from({ length: 8 - l.length - r.length }, () => '0');
  return [...l, ...zeros, ...r].map((g) => g.padStart(4, '0')).join('').toLowerCase();
}

/**
 * The PTR owner name of an address: `4.3.2.1.in-addr.arpa` for 1.2.3.4, the
 * 32 reversed nibbles + `ip6.arpa` for IPv6. Undefined for anything else.
 */
export function reverseName(ip: string): string | undefined {
  if (isIPv4(ip)) return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
  if (isIPv6(ip)) return `${[...ipv6Nibbles(ip)].reverse().join('.')}.ip6.arpa`;
  return undefined;
}

/** True for names under in-addr.arpa or ip6.arpa. */
export function isReverseName(name: string): boolean {
  return inZone(name, 'in-addr.arpa') || inZone(name, 'ip6.arpa');
}

/**
 * An endpoint's hostname when it has none of its own (the spec leaves the
 * format open): the address with dashes, as CoreDNS does — `10-244-1-5`,
 * `fd00--1` for IPv6.
 */
export function endpointHostname(ip: string): string {
  return ip.toLowerCase().replace(/[.:]/g, '-');
}

/**
 * Whether a decoded query name can be written back unchanged: dns-packet
 * decodes labels as UTF-8 and joins them with dots, so a label holding a dot
 * or bytes that are not printable ASCII would be re-encoded differently.
 */
export function echoableName(name: string): boolean {
  if (name === '.') return true;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return false;
  }
  return !name.includes('..') && !name.startsWith('.');
}
