import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import * as dnsPacket from 'dns-packet';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DnsMetrics } from './metrics.js';
import { DnsServer } from './server.js';
import { answerLines, decode, endpoints, frame, query, service, tcpExchange, udpExchange } from './test-support.js';
import { UpstreamForwarder } from './upstream.js';
import { ClusterZone } from './zone.js';

const D = 'cluster.local';
const WEB = `web.default.svc.${D}`;

function zoneWithBigHeadless(): ClusterZone {
  const zone = new ClusterZone({ domain: D, ttlSeconds: 5 });
  zone.upsertService(service({ name: 'web', clusterIPs: ['10.96.0.20'], ports: [{ name: 'http', port: 80 }] }));
  zone.upsertService(service({ name: 'big', clusterIPs: ['None'] }));
  zone.upsertEndpoints(endpoints({ name: 'big', addresses: Array.from({ length: 150 }, (_, i) => ({ ip: `10.244.3.${i + 1}` })) }));
  return zone;
}

/** A stand-in upstream resolver: answers every A question with 192.0.2.1 (UDP and TCP). */
async function fakeUpstream(): Promise<{ port: number; udp: UdpSocket; tcp: Server; seen: string[] }> {
  const seen: string[] = [];
  const answer = (msg: Buffer): Buffer => {
    const q = dnsPacket.decode(msg);
    seen.push(q.questions?.[0]?.name ?? '?');
    return dnsPacket.encode({
      id: q.id ?? 0,
      type: 'response',
      flags: dnsPacket.RECURSION_AVAILABLE,
      questions: q.questions ?? [],
      answers: [{ name: q.questions?.[0]?.name ?? '', type: 'A', ttl: 60, data: '192.0.2.1' }],
    });
  };
  const udp = createSocket('udp4');
  udp.on('message', (m, r) => udp.send(answer(m), r.port, r.address));
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
  const port = udp.address().port;
  const tcp = createServer((s) => {
    s.on('data', (d: Buffer) => s.write(frame(answer(d.subarray(2)))));
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => tcp.listen(port, '127.0.0.1', () => r()));
  return { port, udp, tcp, seen };
}

async function startServer(upstreamPort?: number) {
  const registry = new Registry();
  const zone = zoneWithBigHeadless();
  const metrics = new DnsMetrics(registry, () => ({ records: zone.size, names: zone.nameCount, services: zone.serviceCount }));
  const upstream = new UpstreamForwarder({ servers: upstreamPort ? [{ host: '127.0.0.1', port: upstreamPort }] : [], timeoutMs: 500 });
  const server = new DnsServer({ host: '127.0.0.1', port: 0, zone, synced: () => true, upstream, metrics, logger: pino({ level: 'silent' }) });
  await server.start();
  return { server, registry, upstream, zone };
}

describe('DnsServer on real sockets', () => {
  let s: Awaited<ReturnType<typeof startServer>>;
  let up: Awaited<ReturnType<typeof fakeUpstream>>;
  beforeAll(async () => {
    up = await fakeUpstream();
    s = await startServer(up.port);
  });
  afterAll(async () => {
    await s?.server.stop();
    s?.upstream.close();
    up?.udp.close();
    up?.tcp.close();
  });

  it('answers over UDP', async () => {
    const res = decode((await udpExchange(s.server.port, query(WEB, 'A')))!);
    expect(answerLines(res)).toEqual([`${WEB} A 10.96.0.20`]);
  });

  it('answers a truncated UDP answer completely over TCP, as a resolver retries', async () => {
    const udp = decode((await udpExchange(s.server.port, query(`big.default.svc.${D}`, 'A', { udpSize: 1232 })))!);
    expect(udp.flag_tc).toBe(true);
    const { replies } = await tcpExchange(s.server.port, frame(query(`big.default.svc.${D}`, 'A')), 1);
    const tcp = decode(replies[0]!);
    expect(tcp.flag_tc).toBe(false);
    expect(tcp.answers).toHaveLength(150);
  });

  it('answers several queries on one TCP connection, in order, even sent in one write and split across writes', async () => {
    const names = [WEB, `big.default.svc.${D}`, `nothing.default.svc.${D}`, `_http._tcp.${WEB}`];
    const bytes = Buffer.concat(names.map((n, i) => frame(query(n, n.startsWith('_') ? 'SRV' : 'A', { id: 100 + i }))));
    const { replies } = await tcpExchange(s.server.port, bytes, names.length);
    expect(replies.map((r) => decode(r).id)).toEqual([100, 101, 102, 103]);
    // The same bytes cut mid-length-prefix and mid-message.
    const split = await tcpExchange(s.server.port, [bytes.subarray(0, 1), bytes.subarray(1, 30), bytes.subarray(30)], names.length);
    expect(split.replies.map((r) => decode(r).id)).toEqual([100, 101, 102, 103]);
    expect(replies.map((r) => decode(r).rcode)).toEqual(['NOERROR', 'NOERROR', 'NXDOMAIN', 'NOERROR']);
  });

  it('closes a connection whose frame is larger than any query, and only that one', async () => {
    const oversized = Buffer.alloc(2 + 9000);
    oversized.writeUInt16BE(9000, 0);
    const bad = await tcpExchange(s.server.port, oversized, 1, 2000);
    expect(bad.closed).toBe(true);
    expect(bad.replies).toEqual([]);
    const res = decode((await udpExchange(s.server.port, query(WEB, 'A')))!);
    expect(res.rcode).toBe('NOERROR');
  });

  it('forwards names outside the domain upstream (UDP and TCP), with the client ID restored', async () => {
    const udp = decode((await udpExchange(s.server.port, query('example.org', 'A', { id: 777 })))!);
    expect(udp.id).toBe(777);
    expect(answerLines(udp)).toEqual(['example.org A 192.0.2.1']);
    const { replies } = await tcpExchange(s.server.port, frame(query('tcp.example.org', 'A', { id: 778 })), 1);
    expect(decode(replies[0]!).id).toBe(778);
    expect(up.seen).toContain('tcp.example.org');
  });

  it('answers a repeated question from the answer cache, with its own ID, until the zone changes', async () => {
    const name = `cached.default.svc.${D}`;
    s.zone.upsertService(service({ name: 'cached', clusterIPs: ['10.96.0.40'] }));
    const before = s.server.cacheStats().hits;
    const first = decode((await udpExchange(s.server.port, query(name, 'A', { id: 1 })))!);
    const second = decode((await udpExchange(s.server.port, query(name, 'A', { id: 2 })))!);
    expect(s.server.cacheStats().hits).toBe(before + 1);
    expect([first.id, second.id]).toEqual([1, 2]);
    expect(answerLines(second)).toEqual(answerLines(first));
    s.zone.upsertService(service({ name: 'cached', clusterIPs: ['10.96.0.41'] }));
    const third = decode((await udpExchange(s.server.port, query(name, 'A', { id: 3 })))!);
    expect(answerLines(third)).toEqual([`${name} A 10.96.0.41`]);
  });

  it('counts requests by type and rcode, and durations', async () => {
    const text = await s.registry.metrics();
    expect(text).toMatch(/svcnet_dns_requests_total\{proto="udp",type="A",rcode="NOERROR"\} [1-9]/);
    expect(text).toMatch(/svcnet_dns_requests_total\{proto="tcp",type="A",rcode="NXDOMAIN"\} [1-9]/);
    expect(text).toMatch(/svcnet_dns_request_duration_seconds_count\{proto="udp"\} [1-9]/);
    expect(text).toMatch(/svcnet_dns_malformed_requests_total\{proto="tcp",action="closed"\} 1/);
    expect(text).toMatch(/svcnet_dns_truncated_responses_total [1-9]/);
  });
});

describe('DnsServer without upstream', () => {
  it('answers SERVFAIL when the upstream does not answer', async () => {
    const silent = createSocket('udp4');
    await new Promise<void>((r) => silent.bind(0, '127.0.0.1', () => r()));
    const s = await startServer(silent.address().port);
    try {
      const res = decode((await udpExchange(s.server.port, query('example.org', 'A'), 3000))!);
      expect(res.rcode).toBe('SERVFAIL');
    } finally {
      await s.server.stop();
      s.upstream.close();
      silent.close();
    }
  });
});
