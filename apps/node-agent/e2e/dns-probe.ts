/**
 * DNS helpers of the data-plane table: queries sent from inside pods to the
 * nameserver their resolv.conf names (kube-dns's ClusterIP, programmed by the
 * agents), lookups through the C library's resolver (search list, ndots),
 * and services created with the shapes DNS cases need (headless, named ports).
 */
import { createRequire } from 'node:module';
import type { ServiceError } from '@grpc/grpc-js';
import { serviceFromProto, serviceToProto, type v1 } from '@svcnet/api';
import type { Service } from '@svcnet/model';
import type { Cluster } from '@svcnet/cluster';

const requireHere = createRequire(import.meta.url);

/** What one DNS query from a pod got back. */
export interface DnsReply {
  rcode: string;
  /** `TYPE data` per answer (SRV: `SRV port target`), sorted. */
  answers: string[];
  /** The answers' TTLs. */
  ttls: number[];
}

/**
 * One query over UDP, from inside `from`, to the first nameserver of that
 * namespace's /etc/resolv.conf (what `ip netns exec` mounted there).
 */
export async function dnsQuery(cluster: Cluster, from: string, name: string, type: 'A' | 'AAAA' | 'SRV' | 'PTR' | 'TXT' = 'A'): Promise<DnsReply> {
  const packet = requireHere.resolve('dns-packet');
  const script = `
    const dgram = require('node:dgram');
    const fs = require('node:fs');
    const dnsPacket = require(${JSON.stringify(packet)});
    const [name, type] = process.argv.slice(1);
    const server = /^nameserver\\s+(\\S+)/m.exec(fs.readFileSync('/etc/resolv.conf', 'utf8'))[1];
    const s = dgram.createSocket('udp4');
    const timer = setTimeout(() => { console.log(JSON.stringify({ rcode: 'TIMEOUT', answers: [], ttls: [] })); process.exit(0); }, 3000);
    s.on('message', (m) => {
      const r = dnsPacket.decode(m);
      const answers = (r.answers || []).map((a) => a.type === 'SRV' ? 'SRV ' + a.data.port + ' ' + a.data.target : a.type + ' ' + a.data).sort();
      console.log(JSON.stringify({ rcode: r.rcode, answers, ttls: (r.answers || []).map((a) => a.ttl) }));
      clearTimeout(timer);
      s.close();
    });
    s.send(dnsPacket.encode({ type: 'query', id: 1, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type }] }), 53, server);`;
  const r = await cluster.exec(from, [process.execPath, '-e', script, name, type], { timeoutMs: 15_000 });
  return JSON.parse(r.stdout.trim()) as DnsReply;
}

/**
 * Looks `name` up through getaddrinfo (search list and ndots from the pod's
 * resolv.conf, as any program does), then connects to `name:port` and reads
 * the reply: `{ address, reply }` or the error code.
 */
export async function connectByName(cluster: Cluster, from: string, name: string, port: number): Promise<{ address: string; reply: string; error: string }> {
  const script = `
    const dns = require('node:dns');
    const net = require('node:net');
    const [name, port] = process.argv.slice(1);
    const out = (o) => { console.log(JSON.stringify(o)); process.exit(0); };
    dns.lookup(name, { family: 4 }, (err, address) => {
      if (err) return out({ address: '', reply: '', error: err.code || String(err) });
      let data = '';
      const s = net.connect({ host: name, port: Number(port), family: 4 });
      s.setTimeout(3000, () => out({ address, reply: data, error: 'ETIMEDOUT' }));
      s.on('data', (d) => (data += d));
      s.on('end', () => out({ address, reply: data.trim(), error: '' }));
      s.on('error', (e) => out({ address, reply: '', error: e.code || String(e) }));
    });`;
  const r = await cluster.exec(from, [process.execPath, '-e', script, name, String(port)], { timeoutMs: 20_000 });
  return JSON.parse(r.stdout.trim()) as { address: string; reply: string; error: string };
}

/** Parameters of {@link createDnsService}. */
export interface DnsServiceParams {
  name: string;
  selector: Record<string, string>;
  /** `None` makes it headless; default: allocated. */
  clusterIP?: string;
  ports: { name: string; port: number; targetPort: number; protocol?: 'TCP' | 'UDP' }[];
}

/** Creates a service through the State API and returns it as stored. */
export async function createDnsService(cluster: Cluster, p: DnsServiceParams): Promise<Service> {
  const client = cluster.stateClient();
  if (!client) throw new Error(`no state service in cluster ${cluster.name}`);
  const svc: Service = {
    metadata: { namespace: 'default', name: p.name, uid: '', labels: {}, annotations: {}, resourceVersion: 0 },
    spec: {
      type: 'ClusterIP',
      clusterIP: p.clusterIP ?? '',
      clusterIPs: p.clusterIP ? [p.clusterIP] : [],
      ipFamilies: [],
      ports: p.ports.map((x) => ({ name: x.name, protocol: x.protocol ?? 'TCP', port: x.port, targetPort: x.targetPort, nodePort: 0 })),
      selector: p.selector,
      sessionAffinity: 'None',
      sessionAffinityTimeoutSeconds: 0,
      externalTrafficPolicy: 'Cluster',
      internalTrafficPolicy: 'Cluster',
      externalIPs: [],
    },
  };
  const created = await new Promise<v1.Service>((resolve, reject) =>
    client.createService({ service: serviceToProto(svc) }, (err: ServiceError | null, res: v1.Service) => (err ? reject(err) : resolve(res))),
  );
  return serviceFromProto(created);
}
