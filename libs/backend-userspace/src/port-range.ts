import { invalidField } from '@svcnet/model';

/** An inclusive range of ports for proxy sockets (kube-proxy's `--proxy-port-range`). */
export interface PortRange {
  min: number;
  max: number;
}

function toPort(text: string, value: string): number {
  if (!/^\d+$/.test(text)) throw invalidField('proxyPortRange', value, 'expected "min-max", "min+count" or "0"');
  const n = Number(text);
  if (n > 65535) throw invalidField('proxyPortRange', value, 'ports must be 1-65535');
  return n;
}

/**
 * Parses `--proxy-port-range`: `"a-b"`, `"a+n"` (a to a+n, as kube-proxy) or `"a"` (one port).
 * `""`, `"0"` and `"0-0"` mean "let the kernel choose" and return undefined.
 */
export function parseProxyPortRange(value: string | PortRange | undefined): PortRange | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') return checkRange(value, JSON.stringify(value));
  const text = value.trim();
  if (text === '' || text === '0' || text === '0-0') return undefined;
  const plus = /^(\d+)\+(\d+)$/.exec(text);
  if (plus) {
    const min = toPort(plus[1]!, value);
    return checkRange({ min, max: min + toPort(plus[2]!, value) }, value);
  }
  const dash = /^(\d+)-(\d+)$/.exec(text);
  if (dash) return checkRange({ min: toPort(dash[1]!, value), max: toPort(dash[2]!, value) }, value);
  const one = toPort(text, value);
  return checkRange({ min: one, max: one }, value);
}

function checkRange(r: PortRange, shown: string): PortRange | undefined {
  if (r.min === 0 && r.max === 0) return undefined;
  if (!Number.isInteger(r.min) || !Number.isInteger(r.max) || r.min < 1 || r.max > 65535 || r.min > r.max) {
    throw invalidField('proxyPortRange', shown, 'need 1 <= min <= max <= 65535');
  }
  return { min: r.min, max: r.max };
}
