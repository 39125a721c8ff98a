import { describe, expect, it } from 'vitest';
import { handleMessage, Transport } from './message.js';
import { reverseName } from './names.js';
import { answerLines, decode, endpoints, query, service } from './test-support.js';
import { ClusterZone, LookupKind } from './zone.js';

const D = 'cluster.local';

/** The zone every case reads. */
function fixture(): ClusterZone {
  const zone = new ClusterZone({ domain: D, ttlSeconds: 5 });
  zone.upsertService(service({ name: 'web', clusterIPs: ['10.96.0.20'], ports: [{ name: 'http', port: 80 }, { port: 8080 }] }));
  zone.upsertService(service({ name: 'dual', clusterIPs: ['10.96.0.21', 'fd00::21'], ports: [{ name: 'dns', port: 53, protocol: 'UDP' }] }));
  zone.upsertService(service({ name: 'db', clusterIPs: ['None'], ports: [{ name: 'pg', port: 5432 }] }));
  zone.upsertEndpoints(
    endpoints({
      name: 'db',
      addresses: [{ ip: '10.244.1.5' }, { ip: '10.244.2.6' }, { ip: '10.244.1.7', ready: false }],
      ports: [{ name: 'pg', port: 15432 }],
    }),
  );
  zone.upsertService(service({ name: 'idle', clusterIPs: ['None'] }));
  zone.upsertEndpoints(endpoints({ name: 'idle', addresses: [{ ip: '10.244.1.9', ready: false }] }));
  zone.upsertService(service({ ns: 'kube-system', name: 'kube-dns', clusterIPs: ['10.96.0.10'], ports: [{ name: 'dns', port: 53, protocol: 'UDP' }] }));
  zone.upsertService(service({ ns: 'other', name: 'web', clusterIPs: ['10.96.0.30'] }));
  zone.upsertService(service({ name: 'pending', clusterIPs: [] }));
  return zone;
}

interface Case {
  name: string;
  qname: string;
  qtype: string;
  rcode: string;
  answers?: string[];
  authority?: string[];
  additional?: string[];
  aa?: boolean;
}

const SOA = [`${D} SOA ns.dns.${D}`];
const web = `web.default.svc.${D}`;

const cases: Case[] = [
  { name: 'A of a ClusterIP service', qname: web, qtype: 'A', rcode: 'NOERROR', answers: [`${web} A 10.96.0.20`], aa: true },
  {
    name: 'names are case-insensitive; the answer echoes the spelling asked',
    qname: 'WeB.DeFault.SVC.Cluster.LOCAL',
    qtype: 'A',
    rcode: 'NOERROR',
    answers: ['WeB.DeFault.SVC.Cluster.LOCAL A 10.96.0.20'],
  },
  { name: 'same name in another namespace', qname: `web.other.svc.${D}`, qtype: 'A', rcode: 'NOERROR', answers: [`web.other.svc.${D} A 10.96.0.30`] },
  { name: 'AAAA of an IPv4-only service is NODATA with the SOA', qname: web, qtype: 'AAAA', rcode: 'NOERROR', answers: [], authority: SOA },
  { name: 'MX of a service is NODATA', qname: web, qtype: 'MX', rcode: 'NOERROR', answers: [], authority: SOA },
  { name: 'dual-stack: A', qname: `dual.default.svc.${D}`, qtype: 'A', rcode: 'NOERROR', answers: [`dual.default.svc.${D} A 10.96.0.21`] },
  { name: 'dual-stack: AAAA', qname: `dual.default.svc.${D}`, qtype: 'AAAA', rcode: 'NOERROR', answers: [`dual.default.svc.${D} AAAA fd00::21`] },
  {
    name: 'SRV of a named port, target A in the additional section',
    qname: `_http._tcp.${web}`,
    qtype: 'SRV',
    rcode: 'NOERROR',
    answers: [`_http._tcp.${web} SRV 0 100 80 ${web}`],
    additional: [`${web} A 10.96.0.20`],
  },
  { name: 'SRV of a UDP port', qname: `_dns._udp.dual.default.svc.${D}`, qtype: 'SRV', rcode: 'NOERROR', answers: [`_dns._udp.dual.default.svc.${D} SRV 0 100 53 dual.default.svc.${D}`] },
  { name: 'SRV with the wrong protocol does not exist', qname: `_http._udp.${web}`, qtype: 'SRV', rcode: 'NXDOMAIN', answers: [], authority: SOA },
  {
    name: 'headless: one A per ready endpoint, not-ready ones left out',
    qname: `db.default.svc.${D}`,
    qtype: 'A',
    rcode: 'NOERROR',
    answers: [`db.default.svc.${D} A 10.244.1.5`, `db.default.svc.${D} A 10.244.2.6`],
  },
  { name: 'headless: an endpoint hostname resolves', qname: `10-244-1-5.db.default.svc.${D}`, qtype: 'A', rcode: 'NOERROR', answers: [`10-244-1-5.db.default.svc.${D} A 10.244.1.5`] },
  { name: 'headless: a not-ready endpoint hostname does not exist', qname: `10-244-1-7.db.default.svc.${D}`, qtype: 'A', rcode: 'NXDOMAIN', authority: SOA },
  {
    name: 'headless: SRV per ready endpoint with the endpoint port and hostname targets',
    qname: `_pg._tcp.db.default.svc.${D}`,
    qtype: 'SRV',
    rcode: 'NOERROR',
    answers: [`_pg._tcp.db.default.svc.${D} SRV 0 100 15432 10-244-1-5.db.default.svc.${D}`, `_pg._tcp.db.default.svc.${D} SRV 0 100 15432 10-244-2-6.db.default.svc.${D}`],
    additional: [`10-244-1-5.db.default.svc.${D} A 10.244.1.5`, `10-244-2-6.db.default.svc.${D} A 10.244.2.6`],
  },
  { name: 'headless without ready endpoints is NXDOMAIN (spec 2.4.1)', qname: `idle.default.svc.${D}`, qtype: 'A', rcode: 'NXDOMAIN', authority: SOA },
  { name: 'a service without a cluster IP yet has no name', qname: `pending.default.svc.${D}`, qtype: 'A', rcode: 'NXDOMAIN', authority: SOA },
  { name: 'PTR of a cluster IP', qname: '20.0.96.10.in-addr.arpa', qtype: 'PTR', rcode: 'NOERROR', answers: [`20.0.96.10.in-addr.arpa PTR ${web}`] },
  { name: 'PTR of an IPv6 cluster IP', qname: reverseName('fd00::21')!, qtype: 'PTR', rcode: 'NOERROR', answers: [`${reverseName('fd00::21')} PTR dual.default.svc.${D}`] },
  { name: 'PTR of a headless endpoint', qname: '5.1.244.10.in-addr.arpa', qtype: 'PTR', rcode: 'NOERROR', answers: [`5.1.244.10.in-addr.arpa PTR 10-244-1-5.db.default.svc.${D}`] },
  { name: 'PTR of an unknown address is not ours (REFUSED without --upstream)', qname: '99.0.96.10.in-addr.arpa', qtype: 'PTR', rcode: 'REFUSED' },
  { name: 'SOA at the apex', qname: D, qtype: 'SOA', rcode: 'NOERROR', answers: SOA },
  { name: 'NS at the apex, with the name server address', qname: D, qtype: 'NS', rcode: 'NOERROR', answers: [`${D} NS ns.dns.${D}`], additional: [`ns.dns.${D} A 10.96.0.10`] },
  { name: 'the name server name is the kube-dns service', qname: `ns.dns.${D}`, qtype: 'A', rcode: 'NOERROR', answers: [`ns.dns.${D} A 10.96.0.10`] },
  { name: 'schema version TXT', qname: `dns-version.${D}`, qtype: 'TXT', rcode: 'NOERROR', answers: [`dns-version.${D} TXT 1.1.0`] },
  { name: 'an unknown service is NXDOMAIN with the SOA', qname: `nothing.default.svc.${D}`, qtype: 'A', rcode: 'NXDOMAIN', answers: [], authority: SOA, aa: true },
  { name: 'a namespace is an empty non-terminal: NODATA', qname: `default.svc.${D}`, qtype: 'A', rcode: 'NOERROR', answers: [], authority: SOA },
  { name: 'svc.<domain> exists: NODATA', qname: `svc.${D}`, qtype: 'A', rcode: 'NOERROR', answers: [], authority: SOA },
  { name: 'an unknown namespace is NXDOMAIN', qname: `web.nope.svc.${D}`, qtype: 'A', rcode: 'NXDOMAIN', authority: SOA },
  { name: 'wildcards are not served', qname: `*.default.svc.${D}`, qtype: 'A', rcode: 'NXDOMAIN', authority: SOA },
  { name: 'a name outside the domain is REFUSED without --upstream', qname: 'example.com', qtype: 'A', rcode: 'REFUSED' },
  { name: 'a name ending like the domain but outside it', qname: 'notcluster.local', qtype: 'A', rcode: 'REFUSED' },
  { name: 'ANY returns every record at the name', qname: web, qtype: 'ANY', rcode: 'NOERROR', answers: [`${web} A 10.96.0.20`] },
];

describe('the cluster zone, through the message handler', () => {
  const zone = fixture();
  it.each(cases)('$name', (c) => {
    const out = handleMessage(query(c.qname, c.qtype, { udpSize: 4096 }), { zone, synced: true, transport: Transport.udp, canForward: false });
    if (out.kind !== 'reply') throw new Error(`expected a reply, got ${out.kind}`);
    const res = decode(out.wire);
    expect(res.rcode).toBe(c.rcode);
    expect(res.id).toBe(4242);
    expect(res.questions?.[0]?.name).toBe(c.qname);
    if (c.answers) expect(answerLines(res)).toEqual([...c.answers].sort());
    if (c.authority) expect(answerLines(res, 'authorities')).toEqual(c.authority);
    if (c.additional) expect(answerLines(res, 'additionals')).toEqual([...c.additional].sort());
    if (c.aa !== undefined) expect(res.flag_aa).toBe(c.aa);
    for (const a of res.answers ?? []) expect((a as { ttl?: number }).ttl).toBe(5);
  });
});

describe('ClusterZone changes', () => {
  const changes: { name: string; run(zone: ClusterZone): void; name2: string; kind: LookupKind; records?: string[] }[] = [
    {
      name: 'deleting a service removes its names and the namespace it alone held',
      run: (z) => z.deleteService('other', 'web'),
      name2: `other.svc.${D}`,
      kind: LookupKind.NxDomain,
    },
    {
      name: 'a pod made not ready leaves the headless answer',
      run: (z) => z.upsertEndpoints(endpoints({ name: 'db', addresses: [{ ip: '10.244.1.5' }, { ip: '10.244.2.6', ready: false }], ports: [{ name: 'pg', port: 15432 }] })),
      name2: `db.default.svc.${D}`,
      kind: LookupKind.Found,
      records: ['10.244.1.5'],
    },
    {
      name: 'endpoints deleted: the headless name is gone',
      run: (z) => z.deleteEndpoints('default', 'db'),
      name2: `db.default.svc.${D}`,
      kind: LookupKind.NxDomain,
    },
    {
      name: 'a cluster IP changed: the old PTR is gone',
      run: (z) => z.upsertService(service({ name: 'web', clusterIPs: ['10.96.0.99'] })),
      name2: '20.0.96.10.in-addr.arpa',
      kind: LookupKind.OutOfZone,
    },
    {
      name: 'a service created later resolves',
      run: (z) => z.upsertService(service({ ns: 'late', name: 'new', clusterIPs: ['10.96.1.1'] })),
      name2: `new.late.svc.${D}`,
      kind: LookupKind.Found,
      records: ['10.96.1.1'],
    },
  ];
  it.each(changes)('$name', (c) => {
    const zone = fixture();
    const before = zone.serial;
    c.run(zone);
    const found = zone.lookup(c.name2);
    expect(found.kind).toBe(c.kind);
    if (c.records) expect(found.records.map((r) => String(r.data)).sort()).toEqual(c.records);
    expect(zone.serial).not.toBe(before);
  });

  it('holds nothing but the apex once every service is gone', () => {
    const empty = new ClusterZone({ domain: D, ttlSeconds: 5 });
    const zone = fixture();
    for (const key of ['default/web', 'default/dual', 'default/db', 'default/idle', 'kube-system/kube-dns', 'other/web', 'default/pending']) {
      const [ns, name] = key.split('/') as [string, string];
      zone.deleteService(ns, name);
    }
    expect(zone.size).toBe(empty.size);
    expect([...zone.entries()].map((e) => e.name).sort()).toEqual([...empty.entries()].map((e) => e.name).sort());
    expect(zone.lookup(`svc.${D}`).kind).toBe(LookupKind.NxDomain);
  });
});
