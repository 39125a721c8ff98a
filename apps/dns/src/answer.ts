import type { Answer } from 'dns-packet';
import { canonicalName } from './names.js';
import type { RecordData } from './records.js';
import { LookupKind, type ClusterZone } from './zone.js';

/** DNS response codes (RFC 1035, 6891). */
export const Rcode = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5, BADVERS: 16 } as const;
export type Rcode = (typeof Rcode)[keyof typeof Rcode];

/** The rcode's name, for metrics and logs. */
export function rcodeName(rcode: number): string {
  for (const [name, value] of Object.entries(Rcode)) if (value === rcode) return name;
  return `RCODE${rcode}`;
}

/** What the zone says about one question. */
export type ZoneAnswer =
  | {
      kind: 'local';
      rcode: Rcode;
      /** Authoritative (our zone) — false for SERVFAIL before the first sync. */
      authoritative: boolean;
      answers: Answer[];
      authorities: Answer[];
      additionals: Answer[];
    }
  /** Not ours: forward upstream, or REFUSED without one. */
  | { kind: 'elsewhere' };

/** The question, as dns-packet decoded it. */
export interface QuestionView {
  name: string;
  type: string;
}

function toAnswer(name: string, ttl: number, record: RecordData): Answer {
  return { name, type: record.type, ttl, class: 'IN', data: record.data } as Answer;
}

/**
 * Answers one question from the zone (pure; no I/O). The answer owner name is
 * the question's name as the client spelt it (clients that randomise case
 * compare it); the lookup is case-insensitive. Wildcards are not served: `*`
 * is an ordinary label here, which no name has.
 */
export function answerFromZone(zone: ClusterZone, question: QuestionView, synced: boolean): ZoneAnswer {
  const name = canonicalName(question.name);
  const found = zone.lookup(name);
  if (found.kind === LookupKind.OutOfZone) return { kind: 'elsewhere' };
  const ttl = zone.ttlSeconds;
  const soa = (): Answer[] => [toAnswer(zone.domain, ttl, zone.soa())];
  if (!synced) {
    // Before the first full list a "no such name" could be a lie that clients cache.
    return { kind: 'local', rcode: Rcode.SERVFAIL, authoritative: false, answers: [], authorities: [], additionals: [] };
  }
  if (found.kind === LookupKind.NxDomain) {
    return { kind: 'local', rcode: Rcode.NXDOMAIN, authoritative: true, answers: [], authorities: soa(), additionals: [] };
  }
  const qtype = question.type.toUpperCase();
  const matching = qtype === 'ANY' ? found.records : found.records.filter((r) => r.type === qtype);
  if (matching.length === 0) {
    const inCluster = name === zone.domain || name.endsWith(`.${zone.domain}`);
    return { kind: 'local', rcode: Rcode.NOERROR, authoritative: true, answers: [], authorities: inCluster ? soa() : [], additionals: [] };
  }
  const answers = matching.map((r) => toAnswer(question.name, ttl, r));
  return { kind: 'local', rcode: Rcode.NOERROR, authoritative: true, answers, authorities: [], additionals: glue(zone, matching, ttl) };
}

/** Addresses of SRV targets and of the name server, in the additional section (the spec allows it). */
function glue(zone: ClusterZone, records: readonly RecordData[], ttl: number): Answer[] {
  const out: Answer[] = [];
  const targets = new Set<string>();
  for (const r of records) {
    if (r.type === 'SRV') targets.add(r.data.target);
    else if (r.type === 'NS') targets.add(r.data);
  }
  for (const target of targets) {
    for (const rr of zone.lookup(target).records) {
      if (rr.type === 'A' || rr.type === 'AAAA') out.push(toAnswer(target, ttl, rr));
    }
  }
  return out;
}
