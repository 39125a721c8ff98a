/**
 * Kubernetes' field validators and error wording (apimachinery's
 * validation.IsDNS1035Label, field.Invalid/Required/Duplicate…), so that
 * operators see the messages they already know.
 */
import { BlockList, isIP } from 'node:net';
import { invalidField } from './errors.js';

/** One problem with one field, like Kubernetes' field.Error. */
export interface FieldError {
  field: string;
  message: string;
}

const DNS1035 = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

/** Echoed values longer than this are cut: a refusal must stay small whatever was sent. */
export const MAX_ECHOED_VALUE = 80;

/**
 * `value` as JSON for an error message, cut to {@link MAX_ECHOED_VALUE}
 * characters with the full length noted (a 200 KB label value must not come
 * back in a gRPC status header).
 */
export function echoValue(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  if (text.length <= MAX_ECHOED_VALUE) return text;
  return `${text.slice(0, MAX_ECHOED_VALUE)}...(${text.length} characters)`;
}

export const fieldErrors = {
  invalid: (field: string, value: unknown, detail: string): FieldError => ({
    field,
    message: `Invalid value: ${echoValue(value)}: ${detail}`,
  }),
  required: (field: string, detail = ''): FieldError => ({
    field,
    message: detail ? `Required value: ${detail}` : 'Required value',
  }),
  duplicate: (field: string, value: unknown): FieldError => ({ field, message: `Duplicate value: ${echoValue(value)}` }),
  unsupported: (field: string, value: unknown, supported: readonly string[]): FieldError => ({
    field,
    message: `Unsupported value: ${echoValue(value)}: supported values: ${supported.map((s) => `"${s}"`).join(', ')}`,
  }),
  forbidden: (field: string, detail: string): FieldError => ({ field, message: `Forbidden: ${detail}` }),
  tooLong: (field: string, max: number): FieldError => ({ field, message: `Too long: must have at most ${max} bytes` }),
};

function maxLen(max: number): string {
  return `must be no more than ${max} characters`;
}

/** DNS-1035 label: service names (they become DNS names and rule comments). */
export function dns1035LabelErrors(value: string): string[] {
  const errs: string[] = [];
  if (value.length > 63) errs.push(maxLen(63));
  if (!DNS1035.test(value)) {
    errs.push(
      "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
    );
  }
  return errs;
}

/** RFC 1123 label: namespaces, pod names and port names. */
export function dns1123LabelErrors(value: string): string[] {
  const errs: string[] = [];
  if (value.length > 63) errs.push(maxLen(63));
  if (!DNS1123_LABEL.test(value)) {
    errs.push(
      "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
    );
  }
  return errs;
}

/** RFC 1123 subdomain: node names. */
export function dns1123SubdomainErrors(value: string): string[] {
  const errs: string[] = [];
  if (value.length > 253) errs.push(maxLen(253));
  if (!DNS1123_SUBDOMAIN.test(value)) {
    errs.push(
      "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
    );
  }
  return errs;
}

/** IANA_SVC_NAME (RFC 6335): container port names and named target ports. */
export function portNameErrors(value: string): string[] {
  const errs: string[] = [];
  if (value.length > 15) errs.push(maxLen(15));
  if (!/^[-a-z0-9]+$/.test(value)) errs.push('must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)');
  if (value.includes('--')) errs.push('must not contain consecutive hyphens');
  if (!/[a-z]/.test(value)) errs.push('must contain at least one letter (a-z)');
  if (value.startsWith('-') || value.endsWith('-')) errs.push('must not begin or end with a hyphen');
  return errs;
}

export const PORT_RANGE_DETAIL = 'must be between 1 and 65535, inclusive';

export function isValidPortNumber(port: number): boolean {
  return Number.isInteger(port) && port >= 1 && port <= 65535;
}

export const IP_DETAIL = 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)';

export function isValidIp(value: string): boolean {
  return isIP(value) !== 0;
}

const SPECIAL_RANGES: { cidr: [string, number, 'ipv4' | 'ipv6']; detail: string }[] = [
  { cidr: ['0.0.0.0', 32, 'ipv4'], detail: 'may not be unspecified (0.0.0.0)' },
  { cidr: ['::', 128, 'ipv6'], detail: 'may not be unspecified (::)' },
  { cidr: ['127.0.0.0', 8, 'ipv4'], detail: 'may not be in the loopback range (127.0.0.0/8, ::1/128)' },
  { cidr: ['::1', 128, 'ipv6'], detail: 'may not be in the loopback range (127.0.0.0/8, ::1/128)' },
  { cidr: ['169.254.0.0', 16, 'ipv4'], detail: 'may not be in the link-local range (169.254.0.0/16, fe80::/10)' },
  { cidr: ['fe80::', 10, 'ipv6'], detail: 'may not be in the link-local range (169.254.0.0/16, fe80::/10)' },
  { cidr: ['224.0.0.0', 4, 'ipv4'], detail: 'may not be a multicast address (224.0.0.0/4, ff00::/8)' },
  { cidr: ['ff00::', 8, 'ipv6'], detail: 'may not be a multicast address (224.0.0.0/4, ff00::/8)' },
  { cidr: ['255.255.255.255', 32, 'ipv4'], detail: 'may not be the broadcast address (255.255.255.255)' },
];
const SPECIAL = SPECIAL_RANGES.map((r) => {
  const list = new BlockList();
  list.addSubnet(...r.cidr);
  return { list, family: r.cidr[2], detail: r.detail };
});

/**
 * Why `ip` cannot be a backend or an external address (Kubernetes'
 * ValidateNonSpecialIP, plus all multicast and broadcast): traffic DNATed there
 * would reach the node itself or nobody. Empty when it is fine or not an IP.
 */
export function specialIpErrors(ip: string): string[] {
  const family = isIP(ip);
  if (family === 0) return [];
  const f = family === 4 ? 'ipv4' : 'ipv6';
  return SPECIAL.filter((s) => s.family === f && s.list.check(ip, f)).map((s) => s.detail);
}

/** A qualified name (`[prefix/]name`): label and annotation keys, as Kubernetes' IsQualifiedName. */
function qualifiedNameErrors(key: string): string[] {
  const slash = key.indexOf('/');
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  const prefix = slash >= 0 ? key.slice(0, slash) : '';
  const errs: string[] = [];
  if (slash >= 0 && (prefix.length === 0 || dns1123SubdomainErrors(prefix).length > 0)) {
    errs.push('prefix part must be a lowercase RFC 1123 subdomain (e.g. example.com)');
  }
  if (!LABEL_NAME.test(name) || name.length > 63) {
    errs.push(
      "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
    );
  }
  return errs;
}

/** Kubernetes' limit on all annotations of one object together (TotalAnnotationSizeLimitB). */
export const MAX_ANNOTATIONS_BYTES = 256 * 1024;

/** Annotation keys (qualified names) and the total size, as Kubernetes' ValidateAnnotations. */
export function annotationErrors(annotations: Record<string, string>, field: string): FieldError[] {
  const out: FieldError[] = [];
  let total = 0;
  for (const [key, value] of Object.entries(annotations)) {
    for (const d of qualifiedNameErrors(key)) out.push(fieldErrors.invalid(field, key, d));
    total += Buffer.byteLength(key) + Buffer.byteLength(value);
  }
  if (total > MAX_ANNOTATIONS_BYTES) out.push(fieldErrors.tooLong(field, MAX_ANNOTATIONS_BYTES));
  return out;
}

/** Label keys (optionally prefixed) and values, as in Kubernetes' ValidateLabels. */
export function labelErrors(labels: Record<string, string>, field: string): FieldError[] {
  const out: FieldError[] = [];
  for (const [key, value] of Object.entries(labels)) {
    for (const d of qualifiedNameErrors(key)) out.push(fieldErrors.invalid(field, key, d));
    if (value.length > 63 || !LABEL_VALUE.test(value)) {
      out.push(
        fieldErrors.invalid(
          `${field}`,
          value,
          "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
        ),
      );
    }
  }
  return out;
}

/** True when `ip` lies inside one of the comma-separated CIDRs. */
export function ipInCidrs(ip: string, cidrs: string): boolean {
  const family = isIP(ip);
  if (family === 0) return false;
  const list = new BlockList();
  for (const cidr of cidrs.split(',').map((c) => c.trim()).filter(Boolean)) {
    const [net, bits] = cidr.split('/');
    const netFamily = isIP(net ?? '');
    if (!net || netFamily === 0 || bits === undefined) continue;
    list.addSubnet(net, Number(bits), netFamily === 4 ? 'ipv4' : 'ipv6');
  }
  return list.check(ip, family === 4 ? 'ipv4' : 'ipv6');
}

/** `host:port` for an HTTP listener (metrics, healthz). */
export interface BindAddress {
  host: string;
  port: number;
}

/**
 * Parses a `--*-bind-address` flag: `ip:port` or `[v6]:port`, `:port` for
 * every address; empty means "disabled", as in kube-proxy. Throws
 * INVALID_ARGUMENT naming the flag.
 */
export function parseBindAddress(text: string, field: string): BindAddress | undefined {
  if (text.trim() === '') return undefined;
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(text.trim());
  const host = m ? (m[1] ?? m[2] ?? '') : '';
  const port = m ? Number(m[3]) : NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535 || (host !== '' && isIP(host) === 0)) {
    throw invalidField(field, text, 'expected <ip>:<port>, e.g. 0.0.0.0:10256');
  }
  return { host: host === '' ? '0.0.0.0' : host, port };
}
