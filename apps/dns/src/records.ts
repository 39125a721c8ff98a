import { isIPv4, isIPv6 } from 'node:net';
import { CLUSTER_IP_NONE, type Endpoints, type Service } from '@svcnet/model';
import { endpointHostname, reverseName } from './names.js';

/** The record types the zone holds. */
export const RecordType = { A: 'A', AAAA: 'AAAA', SRV: 'SRV', PTR: 'PTR', TXT: 'TXT', SOA: 'SOA', NS: 'NS' } as const;
export type RecordType = (typeof RecordType)[keyof typeof RecordType];

/** Record data, in dns-packet's shapes. */
export type RecordData =
  | { type: 'A' | 'AAAA' | 'PTR' | 'NS'; data: string }
  | { type: 'SRV'; data: { priority: number; weight: number; port: number; target: string } }
  | { type: 'TXT'; data: string[] }
  | {
      type: 'SOA';
      data: { mname: string; rname: string; serial: number; refresh: number; retry: number; expire: number; minimum: number };
    };

/** One record and the (canonical) name it is found at. */
export interface NamedRecord {
  name: string;
  record: RecordData;
}

/** The version of the Kubernetes DNS-Based Service Discovery specification served. */
export const SCHEMA_VERSION = '1.1.0';

/** SRV priority and weight: the spec leaves them open; CoreDNS's values. */
const SRV_PRIORITY = 0;
const SRV_WEIGHT = 100;

/** The name of a service: `<svc>.<ns>.svc.<domain>`. */
export function serviceName(namespace: string, name: string, domain: string): string {
  return `${name}.${namespace}.svc.${domain}`.toLowerCase();
}

/** The cluster IPs of a service that is not headless (none while unallocated). */
export function clusterIPsOf(svc: Service): string[] {
  const ips = svc.spec.clusterIPs.length > 0 ? svc.spec.clusterIPs : [svc.spec.clusterIP];
  return ips.filter((ip) => ip !== '' && ip !== CLUSTER_IP_NONE && (isIPv4(ip) || isIPv6(ip)));
}

function addressRecord(ip: string): RecordData | undefined {
  if (isIPv4(ip)) return { type: 'A', data: ip };
  if (isIPv6(ip)) return { type: 'AAAA', data: ip };
  return undefined;
}

/** A port name usable as an SRV label (unnamed ports have no SRV record). */
function srvOwner(portName: string, protocol: string, base: string): string | undefined {
  if (!portName) return undefined;
  return `_${portName}._${protocol}.${base}`.toLowerCase();
}

/**
 * Every record one service contributes, following the specification: A/AAAA
 * for its cluster IPs, SRV per named port, PTR per cluster IP; for a headless
 * service (`clusterIP: None`) A/AAAA per ready endpoint at the service name and
 * at `<hostname>.<service>`, SRV per ready endpoint and named port (the
 * endpoint's port: clients connect straight to the pod), PTR per endpoint.
 */
export function serviceRecords(svc: Service, endpoints: Endpoints | undefined, domain: string): NamedRecord[] {
  const base = serviceName(svc.metadata.namespace, svc.metadata.name, domain);
  const out: NamedRecord[] = [];
  if (svc.spec.clusterIP !== CLUSTER_IP_NONE) {
    const ips = clusterIPsOf(svc);
    if (ips.length === 0) return out;
    for (const ip of ips) {
      const rr = addressRecord(ip);
      if (rr) out.push({ name: base, record: rr });
      const ptr = reverseName(ip);
      if (ptr) out.push({ name: ptr, record: { type: 'PTR', data: base } });
    }
    for (const port of svc.spec.ports) {
      const owner = srvOwner(port.name, port.protocol.toLowerCase(), base);
      if (owner) out.push({ name: owner, record: { type: 'SRV', data: { priority: SRV_PRIORITY, weight: SRV_WEIGHT, port: port.port, target: base } } });
    }
    return out;
  }
  const seen = new Set<string>();
  const srvSeen = new Set<string>();
  for (const subset of endpoints?.subsets ?? []) {
    for (const address of subset.addresses) {
      if (!address.ready) continue;
      const rr = addressRecord(address.ip);
      if (!rr) continue;
      const host = `${endpointHostname(address.ip)}.${base}`;
      if (!seen.has(address.ip)) {
        seen.add(address.ip);
        out.push({ name: base, record: rr }, { name: host, record: rr });
        const ptr = reverseName(address.ip);
        if (ptr) out.push({ name: ptr, record: { type: 'PTR', data: host } });
      }
      for (const port of subset.ports) {
        const owner = srvOwner(port.name, port.protocol.toLowerCase(), base);
        const key = `${owner}|${host}|${port.port}`;
        if (!owner || srvSeen.has(key)) continue;
        srvSeen.add(key);
        out.push({ name: owner, record: { type: 'SRV', data: { priority: SRV_PRIORITY, weight: SRV_WEIGHT, port: port.port, target: host } } });
      }
    }
  }
  return out;
}

/** The name server's own name, as CoreDNS calls it: `ns.dns.<domain>`. */
export function nameServerName(domain: string): string {
  return `ns.dns.${domain}`;
}

/** Parameters of {@link apexRecords}. */
export interface ApexParams {
  domain: string;
  ttlSeconds: number;
  serial: number;
}

/** SOA (negative answers cached for the TTL) and NS at the apex, and the schema version TXT. */
export function apexRecords(p: ApexParams): NamedRecord[] {
  return [
    { name: p.domain, record: soaRecord(p) },
    { name: p.domain, record: { type: 'NS', data: nameServerName(p.domain) } },
    { name: `dns-version.${p.domain}`, record: { type: 'TXT', data: [SCHEMA_VERSION] } },
  ];
}

/** The zone's SOA record. */
export function soaRecord(p: ApexParams): RecordData {
  return {
    type: 'SOA',
    data: {
      mname: nameServerName(p.domain),
      rname: `hostmaster.${p.domain}`,
      serial: p.serial >>> 0,
      refresh: 7200,
      retry: 1800,
      expire: 86400,
      minimum: p.ttlSeconds,
    },
  };
}
