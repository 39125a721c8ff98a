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

export const fieldErrors = {
  invalid: (field: string, value: unknown, detail: string): FieldError => ({
    field,
    message: `Invalid value: ${JSON.stringify(value)}: ${detail}`,
  }),
  required: (field: string, detail = ''): FieldError => ({
    field,
    message: detail ? `Required value: ${detail}` : 'Required value',
  }),
  duplicate: (field: string, value: unknown): FieldError => ({ field, message: `Duplicate value: ${JSON.stringify(value)}` }),
  unsupported: (field: string, value: unknown, supported: string[]): FieldError => ({
    field,
    message: `Unsupported value: ${JSON.stringify(value)}: supported values: ${supported.map((s) => `"${s}"`).join(', ')}`,
  }),
  forbidden: (field: string, detail: string): FieldError => ({ field, message: `Forbidden: ${detail}` }),
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

/** Label keys (optionally prefixed) and values, as in Kubernetes' ValidateLabels. */
export function labelErrors(labels: Record<string, string>, field: string): FieldError[] {
  const out: FieldError[] = [];
  for (const [key, value] of Object.entries(labels)) {
    const slash = key.lastIndexOf('/');
    const name = slash >= 0 ? key.slice(slash + 1) : key;
    const prefix = slash >= 0 ? key.slice(0, slash) : '';
    if (!LABEL_NAME.test(name) || name.length > 63 || (slash >= 0 && dns1123SubdomainErrors(prefix).length > 0)) {
      out.push(
        fieldErrors.invalid(
          field,
          key,
          "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
        ),
      );
    }
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
