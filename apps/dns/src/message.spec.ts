import * as dnsPacket from 'dns-packet';
import { describe, expect, it } from 'vitest';
import { CLASSIC_UDP_SIZE, handleMessage, MAX_UDP_SIZE, Transport, type HandleParams } from './message.js';
import { decode, endpoints, query, service } from './test-support.js';
import { ClusterZone } from './zone.js';

const D = 'cluster.local';

/** A headless service with 200 ready endpoints: its A answer is ~3.4 KB, over any UDP limit here. */
function bigZone(): ClusterZone {
  const zone = new ClusterZone({ domain: D, ttlSeconds: 5 });
  zone.upsertService(service({ name: 'big', clusterIPs: ['None'] }));
  zone.upsertEndpoints(endpoints({ name: 'big', addresses: Array.from({ length: 200 }, (_, i) => ({ ip: `10.244.${i >> 8}.${(i & 255) + 1}` })) }));
  zone.upsertService(service({ name: 'web', clusterIPs: ['10.96.0.20'] }));
  return zone;
}

const zone = bigZone();
const params = (over: Partial<HandleParams> = {}): HandleParams => ({ zone, synced: true, transport: Transport.udp, canForward: false, ...over });

function reply(msg: Buffer, over: Partial<HandleParams> = {}) {
  const out = handleMessage(msg, params(over));
  if (out.kind !== 'reply') throw new Error(`expected a reply, got ${JSON.stringify(out)}`);
  return { out, res: decode(out.wire) };
}

const bigName = `big.default.svc.${D}`;

describe('message handling', () => {
  const sizes: { name: string; msg: Buffer; transport: Transport; limit: number; tc: boolean; answers?: number }[] = [
    { name: 'UDP without EDNS0: cut to 512 bytes, TC set', msg: query(bigName, 'A'), transport: Transport.udp, limit: CLASSIC_UDP_SIZE, tc: true },
    { name: 'UDP with EDNS0 1232: cut to 1232, TC set', msg: query(bigName, 'A', { udpSize: 1232 }), transport: Transport.udp, limit: 1232, tc: true },
    { name: 'UDP with EDNS0 4096: capped at our 1232', msg: query(bigName, 'A', { udpSize: 4096 }), transport: Transport.udp, limit: MAX_UDP_SIZE, tc: true },
    { name: 'UDP with EDNS0 below 512 is treated as 512', msg: query(bigName, 'A', { udpSize: 100 }), transport: Transport.udp, limit: CLASSIC_UDP_SIZE, tc: true },
    { name: 'TCP: the full answer', msg: query(bigName, 'A'), transport: Transport.tcp, limit: 65535, tc: false, answers: 200 },
    { name: 'a small answer is never truncated', msg: query(`web.default.svc.${D}`, 'A'), transport: Transport.udp, limit: CLASSIC_UDP_SIZE, tc: false, answers: 1 },
  ];
  it.each(sizes)('$name', (c) => {
    const { out, res } = reply(c.msg, { transport: c.transport });
    expect(out.wire.length).toBeLessThanOrEqual(c.limit);
    expect(res.flag_tc).toBe(c.tc);
    expect(out.truncated).toBe(c.tc);
    if (c.answers !== undefined) expect(res.answers).toHaveLength(c.answers);
    if (c.tc) expect(res.answers!.length).toBeLessThan(200);
  });

  it('answers EDNS0 with an OPT record advertising our buffer size', () => {
    const { res } = reply(query(`web.default.svc.${D}`, 'A', { udpSize: 4096 }));
    const opt = res.additionals?.find((a) => a.type === 'OPT') as { udpPayloadSize: number } | undefined;
    expect(opt?.udpPayloadSize).toBe(MAX_UDP_SIZE);
    const { res: plain } = reply(query(`web.default.svc.${D}`, 'A'));
    expect(plain.additionals?.find((a) => a.type === 'OPT')).toBeUndefined();
  });

  it('answers an unknown EDNS version with BADVERS', () => {
    const { out, res } = reply(query(`web.default.svc.${D}`, 'A', { udpSize: 1232, ednsVersion: 1 }));
    expect(out.rcode).toBe(16);
    const opt = res.additionals?.find((a) => a.type === 'OPT') as { extendedRcode: number } | undefined;
    expect(opt?.extendedRcode).toBe(1);
    expect(res.answers).toEqual([]);
  });

  const malformed: { name: string; msg: Buffer; expect: 'drop' | 'FORMERR' | 'NOTIMP' }[] = [
    { name: 'shorter than a header: dropped', msg: Buffer.from([1, 2, 3]), expect: 'drop' },
    { name: 'a response (QR set): dropped', msg: (() => { const m = query('x', 'A'); m[2]! |= 0x80; return m; })(), expect: 'drop' },
    { name: 'a header claiming a question that is not there: FORMERR', msg: Buffer.from([0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]), expect: 'FORMERR' },
    { name: 'no question at all: FORMERR', msg: dnsPacket.encode({ id: 7, type: 'query', questions: [] }), expect: 'FORMERR' },
    {
      name: 'two questions: FORMERR',
      msg: dnsPacket.encode({ id: 7, type: 'query', questions: [{ name: 'a', type: 'A' }, { name: 'b', type: 'A' }] }),
      expect: 'FORMERR',
    },
    { name: 'a name pointer loop: FORMERR', msg: Buffer.from([0, 9, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1]), expect: 'FORMERR' },
    { name: 'a non-QUERY opcode (UPDATE): NOTIMP', msg: (() => { const m = query(`web.default.svc.${D}`, 'A'); m.writeUInt16BE(m.readUInt16BE(2) | (5 << 11), 2); return m; })(), expect: 'NOTIMP' },
  ];
  it.each(malformed)('$name', (c) => {
    const out = handleMessage(c.msg, params());
    if (c.expect === 'drop') {
      expect(out.kind).toBe('drop');
      return;
    }
    if (out.kind !== 'reply') throw new Error(`expected a reply, got ${out.kind}`);
    const res = decode(out.wire);
    expect(res.rcode).toBe(c.expect);
    expect(res.id).toBe(c.msg.readUInt16BE(0));
    expect(res.type).toBe('response');
  });

  it('answers SERVFAIL (not authoritative) for cluster names before the first full list', () => {
    const { res } = reply(query(`web.default.svc.${D}`, 'A'), { synced: false });
    expect(res.rcode).toBe('SERVFAIL');
    expect(res.flag_aa).toBe(false);
  });

  it('hands names outside the domain to the forwarder when there is one, RA set on our answers', () => {
    expect(handleMessage(query('example.com', 'A'), params({ canForward: true })).kind).toBe('forward');
    const { res } = reply(query(`web.default.svc.${D}`, 'A'), { canForward: true });
    expect(res.flag_ra).toBe(true);
    const { res: noFwd } = reply(query(`web.default.svc.${D}`, 'A'));
    expect(noFwd.flag_ra).toBe(false);
  });

  it('keeps the RD bit of the query', () => {
    const { res } = reply(query(`web.default.svc.${D}`, 'A', { flags: 0 }));
    expect(res.flag_rd).toBe(false);
    const { res: rd } = reply(query(`web.default.svc.${D}`, 'A'));
    expect(rd.flag_rd).toBe(true);
  });
});
