// Builders and a small DNS client for the tests (not part of the program).
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import * as dnsPacket from 'dns-packet';
import type { DecodedPacket, Packet, RecordType } from 'dns-packet';
import type { EndpointAddress, Endpoints, Service, ServicePort } from '@svcnet/model';

/** A Service with the given cluster IP(s) ('None' = headless) and ports. */
export function service(p: { ns?: string; name: string; clusterIPs: string[]; ports?: Partial<ServicePort>[] }): Service {
  const clusterIPs = p.clusterIPs;
  return {
    metadata: { namespace: p.ns ?? 'default', name: p.name, uid: `uid-${p.name}`, labels: {}, annotations: {}, resourceVersion: 0 },
    spec: {
      type: 'ClusterIP',
      clusterIP: clusterIPs[0] ?? '',
      clusterIPs,
      ipFamilies: [],
      ports: (p.ports ?? [{ port: 80 }]).map((x) => ({ name: '', protocol: 'TCP', port: 80, targetPort: 0, nodePort: 0, ...x })),
      selector: {},
      sessionAffinity: 'None',
      sessionAffinityTimeoutSeconds: 0,
      externalTrafficPolicy: 'Cluster',
      internalTrafficPolicy: 'Cluster',
      externalIPs: [],
    },
  };
}

/** Endpoints with addresses (`ready` per address) and named ports. */
export function endpoints(p: {
  ns?: string;
  name: string;
  addresses: { ip: string; ready?: boolean }[];
  ports?: { name: string; port: number; protocol?: 'TCP' | 'UDP' }[];
}): Endpoints {
  const addresses: EndpointAddress[] = p.addresses.map((a) => ({ ip: a.ip, nodeName: 'node1', ready: a.ready ?? true, serving: a.ready ?? true, terminating: false }));
  return {
    metadata: { namespace: p.ns ?? 'default', name: p.name, uid: '', labels: {}, annotations: {}, resourceVersion: 0 },
    subsets: [{ addresses, ports: (p.ports ?? []).map((x) => ({ name: x.name, port: x.port, protocol: x.protocol ?? 'TCP' })) }],
  };
}

/** A query message. */
export function query(name: string, type: RecordType | string, opts: { id?: number; udpSize?: number; ednsVersion?: number; flags?: number } = {}): Buffer {
  const packet: Packet = {
    id: opts.id ?? 4242,
    type: 'query',
    flags: opts.flags ?? dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type: type as RecordType, class: 'IN' }],
    additionals:
      opts.udpSize !== undefined
        ? [{ name: '.', type: 'OPT', udpPayloadSize: opts.udpSize, extendedRcode: 0, ednsVersion: opts.ednsVersion ?? 0, flags: 0, flag_do: false, options: [] }]
        : [],
  };
  return dnsPacket.encode(packet);
}

/** A decoded response with its rcode (dns-packet puts it on the decoded header). */
export type Response = DecodedPacket & { rcode: string };

export function decode(wire: Buffer): Response {
  return dnsPacket.decode(wire) as Response;
}

/** Sends one UDP query; resolves with the raw reply or undefined after `timeoutMs`. */
export async function udpExchange(port: number, msg: Buffer, timeoutMs = 1000, host = '127.0.0.1'): Promise<Buffer | undefined> {
  const s = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  try {
    return await new Promise<Buffer | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), timeoutMs);
      s.on('message', (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      s.send(msg, port, host);
    });
  } finally {
    s.close();
  }
}

/**
 * Opens a TCP connection, sends the bytes (an array: one write each, 20 ms
 * apart), collects `expect` framed replies (or until close/timeout).
 */
export async function tcpExchange(port: number, payload: Buffer | Buffer[], expect: number, timeoutMs = 2000): Promise<{ replies: Buffer[]; closed: boolean }> {
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1' });
    let data: Buffer = Buffer.alloc(0);
    const replies: Buffer[] = [];
    let closed = false;
    const finish = (): void => {
      clearTimeout(timer);
      s.destroy();
      resolve({ replies, closed });
    };
    const timer = setTimeout(finish, timeoutMs);
    s.on('connect', () => {
      const chunks = Array.isArray(payload) ? payload : [payload];
      chunks.forEach((c, i) => setTimeout(() => !s.destroyed && s.write(c), i * 20));
    });
    s.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      while (data.length >= 2 && data.length >= 2 + data.readUInt16BE(0)) {
        replies.push(data.subarray(2, 2 + data.readUInt16BE(0)));
        data = data.subarray(2 + data.readUInt16BE(0));
      }
      if (replies.length >= expect) finish();
    });
    s.on('error', () => undefined);
    s.on('close', () => {
      closed = true;
      finish();
    });
  });
}

/** A message framed for TCP (2-byte length prefix). */
export function frame(msg: Buffer): Buffer {
  const out = Buffer.alloc(2 + msg.length);
  out.writeUInt16BE(msg.length, 0);
  msg.copy(out, 2);
  return out;
}

/** Answers as comparable strings: `name TYPE data` (data JSON for objects). */
export function answerLines(res: Packet, section: 'answers' | 'authorities' | 'additionals' = 'answers'): string[] {
  return (res[section] ?? [])
    .filter((a) => a.type !== 'OPT')
    .map((a) => {
      const data = (a as { data: unknown }).data;
      const text =
        a.type === 'SRV'
          ? (() => {
              const d = data as { priority: number; weight: number; port: number; target: string };
              return `${d.priority} ${d.weight} ${d.port} ${d.target}`;
            })()
          : a.type === 'TXT'
            ? (data as Buffer[]).map((b) => b.toString()).join(' ')
            : a.type === 'SOA'
              ? `${(data as { mname: string }).mname}`
              : String(data);
      return `${a.name} ${a.type} ${text}`;
    })
    .sort();
}
