import { isIP } from 'node:net';
import { CLUSTER_IP_NONE, parseObjectKey, Protocol } from '@svcnet/model';
import type { Endpoints, ObjectKind, ObjectMeta, Service } from '@svcnet/model';

/**
 * The agent trusts the store, but one bad record must not poison a node: a
 * value that decodes yet makes no sense (junk bytes that happen to parse, a
 * buggy writer) would make every later apply fail. Such records are refused
 * here, reported, and the last good version of the object stays programmed.
 * Returns why the object is refused, or undefined when it is usable.
 */
const PROTOCOLS = new Set<string>(Object.values(Protocol));
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

function checkMeta(kind: ObjectKind, meta: ObjectMeta, key: string): string | undefined {
  const parsed = parseObjectKey(key);
  if (!parsed || parsed.kind !== kind) return `key ${key} is not a ${kind} key`;
  if (meta.namespace !== parsed.namespace || meta.name !== parsed.name) {
    return `object ${meta.namespace}/${meta.name} does not match its key ${key}`;
  }
  if (!DNS_LABEL.test(meta.namespace) || !DNS_LABEL.test(meta.name)) return `invalid name ${meta.namespace}/${meta.name}`;
  return undefined;
}

function validCidr(text: string): boolean {
  const [ip, bits, extra] = text.split('/');
  if (extra !== undefined || !ip || bits === undefined || !/^\d{1,3}$/.test(bits)) return false;
  const family = isIP(ip);
  return family !== 0 && Number(bits) <= (family === 4 ? 32 : 128);
}

function validPort(p: number, allowZero = false): boolean {
  return Number.isInteger(p) && p <= 65535 && (p >= 1 || (allowZero && p === 0));
}

/** Why a Service from the feed cannot be programmed, or undefined. */
export function checkService(svc: Service, key: string): string | undefined {
  const metaProblem = checkMeta('Service', svc.metadata, key);
  if (metaProblem) return metaProblem;
  const { spec } = svc;
  if (spec.clusterIP !== '' && spec.clusterIP !== CLUSTER_IP_NONE && isIP(spec.clusterIP) === 0) {
    return `invalid clusterIP ${JSON.stringify(spec.clusterIP)}`;
  }
  for (const ip of spec.clusterIPs) {
    if (ip !== CLUSTER_IP_NONE && isIP(ip) === 0) return `invalid clusterIPs entry ${JSON.stringify(ip)}`;
  }
  for (const ip of spec.externalIPs) if (isIP(ip) === 0) return `invalid externalIP ${JSON.stringify(ip)}`;
  for (const i of svc.status?.loadBalancer.ingress ?? []) if (i.ip !== '' && isIP(i.ip) === 0) return `invalid load-balancer ingress IP ${JSON.stringify(i.ip)}`;
  for (const r of spec.loadBalancerSourceRanges ?? []) if (!validCidr(r)) return `invalid loadBalancerSourceRanges entry ${JSON.stringify(r)}`;
  if (!validPort(spec.healthCheckNodePort ?? 0, true)) return `healthCheckNodePort ${spec.healthCheckNodePort} out of range`;
  const names = new Set<string>();
  for (const [i, p] of spec.ports.entries()) {
    if (!validPort(p.port)) return `spec.ports[${i}].port ${p.port} out of range`;
    if (!validPort(p.nodePort, true)) return `spec.ports[${i}].nodePort ${p.nodePort} out of range`;
    if (!PROTOCOLS.has(p.protocol)) return `spec.ports[${i}].protocol ${JSON.stringify(p.protocol)} unknown`;
    if (p.name !== '' && !DNS_LABEL.test(p.name)) return `spec.ports[${i}].name ${JSON.stringify(p.name)} invalid`;
    if (names.has(p.name)) return `spec.ports[${i}].name ${JSON.stringify(p.name)} duplicated`;
    names.add(p.name);
  }
  const timeout = spec.sessionAffinityTimeoutSeconds;
  if (!Number.isInteger(timeout) || timeout < 0 || timeout > 86400) return `session affinity timeout ${timeout} invalid`;
  return undefined;
}

/** Why an Endpoints object from the feed cannot be programmed, or undefined. */
export function checkEndpoints(ep: Endpoints, key: string): string | undefined {
  const metaProblem = checkMeta('Endpoints', ep.metadata, key);
  if (metaProblem) return metaProblem;
  for (const [i, subset] of ep.subsets.entries()) {
    for (const a of subset.addresses) if (isIP(a.ip) === 0) return `subsets[${i}] address ${JSON.stringify(a.ip)} invalid`;
    for (const p of subset.ports) {
      if (!validPort(p.port)) return `subsets[${i}] port ${p.port} out of range`;
      if (!PROTOCOLS.has(p.protocol)) return `subsets[${i}] protocol ${JSON.stringify(p.protocol)} unknown`;
    }
  }
  return undefined;
}
