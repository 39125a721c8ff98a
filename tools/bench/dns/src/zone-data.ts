import type { Endpoints, Service } from '@svcnet/model';

/**
 * The benchmark's zone: N services in 100 namespaces, one named TCP port
 * each, every 100th headless with 3 ready endpoints. The same list is written
 * to the state bucket (for svcnet-dns) and to zone files (for the C server),
 * so both serve the same records.
 */
export interface BenchService {
  service: Service;
  endpoints?: Endpoints;
}

const DOMAIN = 'cluster.local';
const TTL = 5;

function ipFrom(base: [number, number], n: number): string {
  return `${base[0]}.${base[1]}.${(n >> 8) & 255}.${n & 255}`;
}

/** The services (and the headless ones' endpoints) of a zone of `count` services. */
export function benchServices(count: number): BenchService[] {
  return Array.from({ length: count }, (_, i) => {
    const headless = i % 100 === 99;
    const clusterIP = headless ? 'None' : ipFrom([10, 96], i + 20);
    const meta = { namespace: `ns${i % 100}`, name: `svc-${i}`, uid: `uid-${i}`, labels: {}, annotations: {}, resourceVersion: 0 };
    const service: Service = {
      metadata: meta,
      spec: {
        type: 'ClusterIP',
        clusterIP,
        clusterIPs: [clusterIP],
        ipFamilies: ['IPv4'],
        ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080, nodePort: 0 }],
        selector: { app: `app-${i}` },
        sessionAffinity: 'None',
        sessionAffinityTimeoutSeconds: 0,
        externalTrafficPolicy: 'Cluster',
        internalTrafficPolicy: 'Cluster',
        externalIPs: [],
      },
    };
    if (!headless) return { service };
    const addresses = [0, 1, 2].map((k) => ({ ip: ipFrom([10, 244], i * 3 + k + 2), nodeName: 'node1', ready: true, serving: true, terminating: false }));
    return { service, endpoints: { metadata: { ...meta }, subsets: [{ addresses, ports: [{ name: 'http', port: 8080, protocol: 'TCP' }] }] } };
  });
}

function fqdn(s: Service): string {
  return `${s.metadata.name}.${s.metadata.namespace}.svc.${DOMAIN}.`;
}

function dashed(ip: string): string {
  return ip.replace(/\./g, '-');
}

/** The cluster zone in RFC 1035 master-file form, with the records svcnet-dns serves for the same services. */
export function zoneFile(services: readonly BenchService[]): string {
  const lines = [
    `$ORIGIN ${DOMAIN}.`,
    `$TTL ${TTL}`,
    `@ IN SOA ns.dns.${DOMAIN}. hostmaster.${DOMAIN}. 1 7200 1800 86400 ${TTL}`,
    `@ IN NS ns.dns.${DOMAIN}.`,
    `ns.dns IN A 10.96.0.10`,
    `dns-version IN TXT "1.1.0"`,
  ];
  for (const { service: s, endpoints } of services) {
    const name = fqdn(s);
    if (endpoints) {
      for (const a of endpoints.subsets[0]!.addresses) {
        const host = `${dashed(a.ip)}.${name}`;
        lines.push(`${name} IN A ${a.ip}`, `${host} IN A ${a.ip}`, `_http._tcp.${name} IN SRV 0 100 8080 ${host}`);
      }
      continue;
    }
    lines.push(`${name} IN A ${s.spec.clusterIP}`, `_http._tcp.${name} IN SRV 0 100 80 ${name}`);
  }
  return `${lines.join('\n')}\n`;
}

/** The reverse zone 10.in-addr.arpa with a PTR per cluster IP and headless endpoint. */
export function reverseZoneFile(services: readonly BenchService[]): string {
  const origin = '10.in-addr.arpa';
  const lines = [`$ORIGIN ${origin}.`, `$TTL ${TTL}`, `@ IN SOA ns.dns.${DOMAIN}. hostmaster.${DOMAIN}. 1 7200 1800 86400 ${TTL}`, `@ IN NS ns.dns.${DOMAIN}.`];
  const ptr = (ip: string, target: string): string => `${ip.split('.').reverse().join('.')}.in-addr.arpa. IN PTR ${target}`;
  for (const { service: s, endpoints } of services) {
    if (endpoints) for (const a of endpoints.subsets[0]!.addresses) lines.push(ptr(a.ip, `${dashed(a.ip)}.${fqdn(s)}`));
    else lines.push(ptr(s.spec.clusterIP, fqdn(s)));
  }
  return `${lines.join('\n')}\n`;
}

/**
 * dnsperf's input: `name type` lines, a fixed mix drawn round-robin over the
 * services — 80 % A of a service, 10 % SRV of its port, 5 % PTR of its
 * address, 5 % a name that does not exist (NXDOMAIN).
 */
export function queryFile(services: readonly BenchService[], lines = 50_000): string {
  const out: string[] = [];
  for (let i = 0; i < lines; i++) {
    const { service: s, endpoints } = services[(i * 7919) % services.length]!;
    const kind = i % 20;
    const name = fqdn(s).slice(0, -1);
    if (kind < 16) out.push(`${name} A`);
    else if (kind < 18) out.push(`_http._tcp.${name} SRV`);
    else if (kind < 19) {
      const ip = endpoints ? endpoints.subsets[0]!.addresses[0]!.ip : s.spec.clusterIP;
      out.push(`${ip.split('.').reverse().join('.')}.in-addr.arpa PTR`);
    } else out.push(`missing-${i}.${s.metadata.namespace}.svc.${DOMAIN} A`);
  }
  return `${out.join('\n')}\n`;
}
