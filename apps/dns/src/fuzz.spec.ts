import { createSocket } from 'node:dgram';
import { Writable } from 'node:stream';
import * as dnsPacket from 'dns-packet';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '@svcnet/proxy-core/testing';
import { DnsMetrics } from './metrics.js';
import { DnsServer } from './server.js';
import { answerLines, decode, endpoints, frame, query, service, tcpExchange, udpExchange } from './test-support.js';
import { UpstreamForwarder } from './upstream.js';
import { ClusterZone } from './zone.js';

const D = 'cluster.local';
const WEB = `web.default.svc.${D}`;
const SEED = Number(process.env.SVCNET_FUZZ_SEED ?? 20261203);
const PACKETS = Number(process.env.SVCNET_FUZZ_PACKETS ?? 6000);


const SEEDS: Buffer[] = [
  query(WEB, 'A'),
  query(WEB, 'AAAA', { udpSize: 1232 }),
  query(`_http._tcp.${WEB}`, 'SRV'),
  query(`big.default.svc.${D}`, 'A', { udpSize: 4096 }),
  query('20.0.96.10.in-addr.arpa', 'PTR'),
  query(`dns-version.${D}`, 'TXT'),
  query(D, 'SOA'),
  query('example.org', 'A'),
];

/** One hostile message: random bytes, or a valid query with bits flipped, bytes cut, inserted or counts forged. */
function mutant(random: () => number): Buffer {
  const r = random();
  const int = (n: number): number => Math.floor(random() * n);
  if (r < 0.2) return Buffer.from(Array.from({ length: int(600) }, () => int(256)));
  const base = Buffer.from(SEEDS[int(SEEDS.length)]!);
  if (r < 0.45) {
    for (let i = 0, n = 1 + int(8); i < n; i++) base[int(base.length)]! ^= 1 << int(8);
    return base;
  }
  if (r < 0.6) return base.subarray(0, int(base.length));
  if (r < 0.75) {
    // Forged section counts (up to 65535) on a short message.
    base.writeUInt16BE(int(0x10000), 4 + 2 * int(4));
    return base;
  }
  if (r < 0.85) {
    // Compression pointers anywhere, including forward and self references.
    const at = 12 + int(Math.max(1, base.length - 13));
    base[at] = 0xc0 | int(64);
    if (at + 1 < base.length) base[at + 1] = int(256);
    return base;
  }
  const insert = Buffer.from(Array.from({ length: 1 + int(40) }, () => int(256)));
  const at = int(base.length);
  return Buffer.concat([base.subarray(0, at), insert, base.subarray(at)]);
}

describe(`fuzz: ${PACKETS} random and mutated packets against a running server (seed ${SEED})`, () => {
  const errors: string[] = [];
  let server: DnsServer;
  let registry: Registry;

  beforeAll(async () => {
    const zone = new ClusterZone({ domain: D, ttlSeconds: 5 });
    zone.upsertService(service({ name: 'web', clusterIPs: ['10.96.0.20'], ports: [{ name: 'http', port: 80 }] }));
    zone.upsertService(service({ name: 'big', clusterIPs: ['None'] }));
    zone.upsertEndpoints(endpoints({ name: 'big', addresses: Array.from({ length: 120 }, (_, i) => ({ ip: `10.244.4.${i + 1}` })) }));
    registry = new Registry();
    const metrics = new DnsMetrics(registry, () => ({ records: zone.size, names: zone.nameCount, services: zone.serviceCount }));
    // A log line at error level means an exception escaped the handler: the test fails on it.
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        errors.push(chunk.toString());
        cb();
      },
    });
    const logger = pino({ level: 'error' }, sink);
    // An upstream that never answers: forwarded mutants must not pile up or crash anything.
    const upstream = new UpstreamForwarder({ servers: [{ host: '127.0.0.1', port: 9 }], timeoutMs: 200 });
    server = new DnsServer({ host: '127.0.0.1', port: 0, zone, synced: () => true, upstream, metrics, logger });
    await server.start();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('survives them over UDP; every reply it sends is a well-formed response', async () => {
    const random = seededRandom(SEED);
    const sock = createSocket('udp4');
    const replies: Buffer[] = [];
    sock.on('message', (m) => replies.push(m));
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    let sent = 0;
    // Batches with a pause, so the kernel's socket buffers do not simply drop the flood.
    while (sent < PACKETS) {
      for (let i = 0; i < 200 && sent < PACKETS; i++, sent++) sock.send(mutant(random), server.port, '127.0.0.1');
      await new Promise((r) => setTimeout(r, 5));
    }
    await new Promise((r) => setTimeout(r, 500));
    sock.close();
    expect(replies.length, 'the server answered a good share of the mutants').toBeGreaterThan(PACKETS / 10);
    for (const wire of replies) {
      const res = dnsPacket.decode(wire);
      expect(res.type).toBe('response');
      expect(wire.length).toBeLessThanOrEqual(1232);
    }
    expect(errors).toEqual([]);
  }, 60_000);

  it('survives them over TCP: garbage closes its own connection, others keep working', async () => {
    const random = seededRandom(SEED + 1);
    const runs = Array.from({ length: 40 }, async () => {
      const frames = Array.from({ length: 20 }, () => {
        const m = mutant(random);
        // Mostly honest lengths; sometimes a lying length prefix.
        if (random() < 0.8) return frame(m);
        const f = frame(m);
        f.writeUInt16BE(Math.floor(random() * 0x10000), 0);
        return f;
      });
      return tcpExchange(server.port, Buffer.concat(frames), 20, 1500);
    });
    const results = await Promise.all(runs);
    for (const { replies } of results) for (const wire of replies) expect(dnsPacket.decode(wire).type).toBe('response');
    expect(errors).toEqual([]);
  }, 60_000);

  it('then still answers correctly, over UDP and TCP', async () => {
    const udp = decode((await udpExchange(server.port, query(WEB, 'A')))!);
    expect(answerLines(udp)).toEqual([`${WEB} A 10.96.0.20`]);
    const { replies } = await tcpExchange(server.port, frame(query(`big.default.svc.${D}`, 'A')), 1);
    expect(decode(replies[0]!).answers).toHaveLength(120);
    const text = await registry.metrics();
    expect(text).toMatch(/svcnet_dns_malformed_requests_total\{proto="udp",action="formerr"\} [1-9]/);
    expect(text).toMatch(/svcnet_dns_malformed_requests_total\{proto="udp",action="dropped"\} [1-9]/);
  });
});
