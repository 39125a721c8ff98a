import { createHash } from 'node:crypto';
import { isIPv4 } from 'node:net';
import type { ServicePortInfo } from '@svcnet/proxy-core';
import { isCidr } from '@svcnet/ipam';
import { IpFamily } from '@svcnet/model';

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 base32 of the first 10 bytes: exactly the 16 characters kube-proxy keeps. */
function base32Prefix16(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (let i = 0; i < 10; i++) {
    buffer = (buffer << 8) | bytes[i]!;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  return out;
}

/** kube-proxy's portProtoHash: first 16 chars of base32(sha256(input)). */
export function portProtoHash(input: string): string {
  return base32Prefix16(createHash('sha256').update(input).digest());
}

/** kube-proxy's ServicePortName.String(): `ns/name:port`, or `ns/name` for an unnamed port. */
export function servicePortNameString(svc: Pick<ServicePortInfo, 'namespace' | 'name' | 'portName'>): string {
  return svc.portName ? `${svc.namespace}/${svc.name}:${svc.portName}` : `${svc.namespace}/${svc.name}`;
}

/** Chain names of one service port, exactly as kube-proxy derives them. */
export interface ServiceChainNames {
  /** `ns/name:port` as used in comments. */
  portName: string;
  svc: string;
  ext: string;
  svl: string;
  /** loadBalancerSourceRanges firewall chain. */
  fw: string;
}

// The proxier keeps a ServicePortInfo object until the service changes, so
// names are cached per object (checked against the fields they come from).
const namesCache = new WeakMap<object, ServiceChainNames & { protocol: string }>();

export function serviceChainNames(svc: Pick<ServicePortInfo, 'namespace' | 'name' | 'portName' | 'protocol'>): ServiceChainNames {
  const cached = namesCache.get(svc);
  if (cached && cached.protocol === svc.protocol && cached.portName === servicePortNameString(svc)) return cached;
  const names = computeChainNames(svc);
  namesCache.set(svc, { ...names, protocol: svc.protocol });
  return names;
}

function computeChainNames(svc: Pick<ServicePortInfo, 'namespace' | 'name' | 'portName' | 'protocol'>): ServiceChainNames {
  const portName = servicePortNameString(svc);
  const hash = portProtoHash(portName + svc.protocol.toLowerCase());
  return { portName, svc: `KUBE-SVC-${hash}`, ext: `KUBE-EXT-${hash}`, svl: `KUBE-SVL-${hash}`, fw: `KUBE-FW-${hash}` };
}

/** kube-proxy's servicePortEndpointChainName: hash of port name + protocol + `ip:port`. */
export function endpointChainName(portName: string, protocol: string, endpoint: string): string {
  return `KUBE-SEP-${portProtoHash(portName + protocol.toLowerCase() + endpoint)}`;
}

// Hashing 50k endpoint chain names per full sync is measurable; EndpointInfo
// objects live as long as their endpoints do not change, so cache per object.
const sepCache = new WeakMap<object, { portName: string; protocol: string; endpoint: string; name: string }>();

/** endpointChainName for an endpoint object, cached on the object. */
export function endpointChainNameOf(portName: string, protocol: string, ep: { ip: string; port: number }): string {
  const endpoint = `${ep.ip}:${ep.port}`;
  const c = sepCache.get(ep);
  if (c && c.portName === portName && c.protocol === protocol && c.endpoint === endpoint) return c.name;
  const name = endpointChainName(portName, protocol, endpoint);
  sepCache.set(ep, { portName, protocol, endpoint, name });
  return name;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const SAFE_COMMENT = /^[A-Za-z0-9 ./:;,_>-]*$/;

/**
 * Why a service port cannot be rendered safely, or undefined when it can.
 * Everything that reaches rule text is checked here, so a crafted name, IP or
 * port can never add an option or a line to an iptables-restore input.
 */
export function invalidReason(svc: ServicePortInfo): string | undefined {
  if (!DNS_LABEL.test(svc.namespace) || svc.namespace.length > 63) return 'namespace is not a DNS label';
  if (!DNS_LABEL.test(svc.name) || svc.name.length > 63) return 'name is not a DNS label';
  if (svc.portName !== '' && (!DNS_LABEL.test(svc.portName) || svc.portName.length > 63)) return 'port name is not a DNS label';
  if (!['TCP', 'UDP', 'SCTP'].includes(svc.protocol)) return 'unsupported protocol';
  if (!isIPv4(svc.clusterIP)) return 'cluster IP is not an IPv4 address';
  if (!isPort(svc.port)) return 'port out of range';
  if (svc.nodePort !== 0 && !isPort(svc.nodePort)) return 'node port out of range';
  if (svc.externalIPs.some((ip) => !isIPv4(ip))) return 'external IP is not an IPv4 address';
  if (svc.loadBalancerIPs.some((ip) => !isIPv4(ip))) return 'load-balancer IP is not an IPv4 address';
  if (svc.loadBalancerSourceRanges.some((c) => !isIPv4Cidr(c))) return 'load-balancer source range is not an IPv4 CIDR';
  if (svc.healthCheckNodePort !== 0 && !isPort(svc.healthCheckNodePort)) return 'health check node port out of range';
  if (svc.sessionAffinity.kind === 'ClientIP') {
    const t = svc.sessionAffinity.timeoutSeconds;
    if (!Number.isInteger(t) || t < 1 || t > 86_400) return 'affinity timeout out of range';
  }
  return undefined;
}

/** A valid TCP/UDP port number. */
export function isPort(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= 65535;
}

/** `a.b.c.d/n` with a valid IPv4 address and prefix. */
export function isIPv4Cidr(s: string): boolean {
  return isCidr(s, IpFamily.IPv4);
}

/** Quotes a rule comment; throws on a character that could escape the quotes (defence in depth). */
export function quoteComment(text: string): string {
  if (!SAFE_COMMENT.test(text) || text.length > 256) throw new Error(`unsafe rule comment: ${JSON.stringify(text)}`);
  return `"${text}"`;
}
