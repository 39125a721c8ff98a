import * as dnsPacket from 'dns-packet';
import type { Answer, DecodedPacket, OptAnswer, Packet, Question } from 'dns-packet';
import { Rcode, answerFromZone } from './answer.js';
import { echoableName } from './names.js';
import type { ClusterZone } from './zone.js';

/** RFC 1035's UDP limit, for clients without EDNS0. */
export const CLASSIC_UDP_SIZE = 512;
/** The largest UDP answer this server sends and advertises (DNS flag day 2020's value). */
export const MAX_UDP_SIZE = 1232;
/** Larger TCP frames are not DNS queries: the connection is closed. */
export const MAX_QUERY_SIZE = 4096;

const QR = 0x8000;
const OPCODE_MASK = 0x7800;
const RD = dnsPacket.RECURSION_DESIRED;

export const Transport = { udp: 'udp', tcp: 'tcp' } as const;
export type Transport = (typeof Transport)[keyof typeof Transport];

/** What became of one incoming message. */
export type Outcome =
  /** Too short for a header, or itself a response: dropped without a word. */
  | { kind: 'drop'; reason: 'short' | 'response' }
  /** Our answer (FORMERR included), ready to send. */
  | { kind: 'reply'; wire: Buffer; rcode: number; qtype: string; truncated: boolean; malformed: boolean }
  /** Not ours: send `query` upstream (the client's own bytes). */
  | { kind: 'forward'; qtype: string };

/** Parameters of {@link handleMessage}. */
export interface HandleParams {
  zone: ClusterZone;
  synced: boolean;
  transport: Transport;
  /** Upstream servers exist: out-of-zone names are forwarded (RA set), else REFUSED. */
  canForward: boolean;
}

function edns(query: DecodedPacket): OptAnswer | undefined {
  for (const a of query.additionals ?? []) if (a.type === 'OPT') return a as OptAnswer;
  return undefined;
}

/** A response header without a question: FORMERR for what could not be parsed. */
function formErr(msg: Buffer): Buffer {
  const id = msg.readUInt16BE(0);
  const flags = msg.readUInt16BE(2);
  return dnsPacket.encode({ id, type: 'response', flags: (flags & (OPCODE_MASK | RD)) | Rcode.FORMERR, questions: [] });
}

/**
 * Turns one DNS message into an outcome: decoding (dns-packet), checks
 * (response bit, opcode, one question, EDNS version), the zone's answer,
 * encoding, and — over UDP — truncation to the client's EDNS0 buffer size
 * (512 without EDNS0) with the TC bit, so the client retries over TCP.
 */
export function handleMessage(msg: Buffer, p: HandleParams): Outcome {
  if (msg.length < 12) return { kind: 'drop', reason: 'short' };
  const flags = msg.readUInt16BE(2);
  // Answering a response could loop two servers into each other.
  if (flags & QR) return { kind: 'drop', reason: 'response' };
  let query: DecodedPacket;
  try {
    query = dnsPacket.decode(msg);
  } catch {
    return { kind: 'reply', wire: formErr(msg), rcode: Rcode.FORMERR, qtype: 'none', truncated: false, malformed: true };
  }
  const opt = edns(query);
  const question = query.questions?.length === 1 ? query.questions[0] : undefined;
  const qtype = question ? question.type : 'none';
  const base = { id: query.id ?? 0, flags: flags & (OPCODE_MASK | RD) };
  const reply = (rcode: number, parts: Partial<Packet> & { aa?: boolean }): Outcome => {
    // Rcodes above 15 keep their upper bits in the OPT record (RFC 6891).
    const ednsRcode = rcode >> 4;
    const packet: Packet = {
      id: base.id,
      type: 'response',
      flags: base.flags | (parts.aa ? dnsPacket.AUTHORITATIVE_ANSWER : 0) | (p.canForward ? dnsPacket.RECURSION_AVAILABLE : 0) | (rcode & 0xf),
      questions: parts.questions ?? [],
      answers: parts.answers ?? [],
      authorities: parts.authorities ?? [],
      additionals: [...(parts.additionals ?? []), ...(opt ? [ourOpt(ednsRcode)] : [])],
    };
    const limit = p.transport === Transport.tcp ? 65535 : opt ? Math.min(Math.max(opt.udpPayloadSize, CLASSIC_UDP_SIZE), MAX_UDP_SIZE) : CLASSIC_UDP_SIZE;
    try {
      const { wire, truncated } = encodeWithin(packet, limit, opt ? ourOpt(ednsRcode) : undefined);
      return { kind: 'reply', wire, rcode, qtype, truncated, malformed: rcode === Rcode.FORMERR };
    } catch {
      // Something in the query dns-packet can decode but not encode again (an odd class or option).
      return { kind: 'reply', wire: formErr(msg), rcode: Rcode.FORMERR, qtype, truncated: false, malformed: true };
    }
  };
  if (opt && opt.ednsVersion > 0) return reply(Rcode.BADVERS, {});
  if ((flags & OPCODE_MASK) !== 0) return reply(Rcode.NOTIMP, { questions: query.questions ?? [] });
  if (!question || !echoableName(question.name)) return reply(Rcode.FORMERR, {});
  const questions: Question[] = [question];
  if (question.class !== 'IN' && question.class !== 'ANY') return reply(Rcode.REFUSED, { questions });
  const found = answerFromZone(p.zone, question, p.synced);
  if (found.kind === 'elsewhere') {
    if (p.canForward) return { kind: 'forward', qtype };
    return reply(Rcode.REFUSED, { questions });
  }
  return reply(found.rcode, {
    aa: found.authoritative,
    questions,
    answers: found.answers,
    authorities: found.authorities,
    additionals: found.additionals,
  });
}

function ourOpt(extendedRcode: number): OptAnswer {
  return { name: '.', type: 'OPT', udpPayloadSize: MAX_UDP_SIZE, extendedRcode, ednsVersion: 0, flags: 0, flag_do: false, options: [] };
}

/**
 * Encodes a response no larger than `limit`: when it does not fit, the
 * additional and authority sections go, then answers from the end, and TC
 * is set (RFC 2181 §9: a truncated answer says so; the client asks over TCP).
 */
export function encodeWithin(packet: Packet, limit: number, opt: OptAnswer | undefined): { wire: Buffer; truncated: boolean } {
  const wire = dnsPacket.encode(packet);
  if (wire.length <= limit) return { wire, truncated: false };
  const answers: Answer[] = [...(packet.answers ?? [])];
  const trimmed: Packet = { ...packet, flags: (packet.flags ?? 0) | dnsPacket.TRUNCATED_RESPONSE, answers, authorities: [], additionals: opt ? [opt] : [] };
  while (answers.length > 0 && dnsPacket.encodingLength(trimmed) > limit) answers.pop();
  return { wire: dnsPacket.encode(trimmed), truncated: true };
}
