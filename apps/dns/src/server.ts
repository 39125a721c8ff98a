import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { createServer, isIPv6, type Server as TcpServer, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { AnswerCache } from './answer-cache.js';
import { Rcode } from './answer.js';
import { handleMessage, MAX_QUERY_SIZE, Transport, type Outcome } from './message.js';
import type { DnsMetrics } from './metrics.js';
import type { UpstreamForwarder } from './upstream.js';
import type { ClusterZone } from './zone.js';
import * as dnsPacket from 'dns-packet';

/** Parameters of a {@link DnsServer}. */
export interface DnsServerParams {
  host: string;
  /** 0 picks a free port (the same one for UDP and TCP). */
  port: number;
  zone: ClusterZone;
  /** Whether the zone holds a full list yet (before that, cluster names get SERVFAIL). */
  synced: () => boolean;
  upstream: UpstreamForwarder;
  metrics: DnsMetrics;
  logger: Logger;
  /** A TCP connection idle this long is closed (RFC 7766 suggests seconds). Default 10 s. */
  tcpIdleMs?: number;
  /** Answers buffered for a client that does not read; beyond it the connection is closed. Default 1 MiB. */
  tcpMaxBuffered?: number;
  /** Encoded answers kept per generation of the answer cache (0 disables it). Default 20,000. */
  cacheCapacity?: number;
}

/**
 * The DNS listener: UDP and TCP on one address. Every answer is computed
 * synchronously from memory; only forwarded queries wait (on the upstream).
 * Over TCP, queries on one connection are answered in order, and a client
 * may send many; a frame larger than any query, a half-sent frame or a slow
 * reader closes that connection only.
 */
export class DnsServer {
  private readonly p: DnsServerParams;
  private udp: UdpSocket | undefined;
  private tcp: TcpServer | undefined;
  private readonly connections = new Set<Socket>();
  private readonly cache: AnswerCache | undefined;

  constructor(params: DnsServerParams) {
    this.p = params;
    const capacity = params.cacheCapacity ?? 20_000;
    this.cache = capacity > 0 ? new AnswerCache(capacity) : undefined;
  }

  /** The answer cache's counters (for metrics and tests). */
  cacheStats(): { hits: number; misses: number; size: number } {
    return { hits: this.cache?.hits ?? 0, misses: this.cache?.misses ?? 0, size: this.cache?.size ?? 0 };
  }

  /** The bound port (after start). */
  get port(): number {
    const addr = this.udp?.address();
    return addr ? addr.port : 0;
  }

  async start(): Promise<void> {
    const family = isIPv6(this.p.host) ? 'udp6' : 'udp4';
    const udp = createSocket({ type: family, reuseAddr: false });
    udp.on('message', (msg, rinfo) => this.onDatagram(udp, msg, rinfo));
    udp.on('error', (err) => this.p.logger.error({ err }, 'UDP socket error'));
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(this.p.port, this.p.host, () => {
        udp.off('error', reject);
        resolve();
      });
    });
    this.udp = udp;
    const tcp = createServer((socket) => this.onConnection(socket));
    tcp.on('error', (err) => this.p.logger.error({ err }, 'TCP listener error'));
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(this.port, this.p.host, () => {
        tcp.off('error', reject);
        resolve();
      });
    });
    this.tcp = tcp;
  }

  async stop(): Promise<void> {
    this.udp?.close();
    this.udp = undefined;
    for (const c of this.connections) c.destroy();
    this.connections.clear();
    const tcp = this.tcp;
    this.tcp = undefined;
    if (tcp) await new Promise<void>((resolve) => tcp.close(() => resolve()));
  }

  private outcome(msg: Buffer, transport: Transport): Outcome {
    const synced = this.p.synced();
    const key = this.cache ? AnswerCache.key(msg, transport) : undefined;
    // The zone generation, and whether answers were still SERVFAIL-before-sync.
    const version = this.p.zone.generation * 2 + (synced ? 1 : 0);
    if (key !== undefined) {
      const hit = this.cache!.get(key, version, msg.readUInt16BE(0));
      if (hit) return { kind: 'reply', ...hit, malformed: false };
    }
    const out = handleMessage(msg, { zone: this.p.zone, synced, transport, canForward: this.p.upstream.configured });
    // Malformed input is not worth remembering (and would let garbage fill the cache).
    if (key !== undefined && out.kind === 'reply' && !out.malformed) this.cache!.set(key, version, out);
    return out;
  }

  /** Counts an outcome; returns the bytes to send now, or undefined (dropped, or forwarded and sent later). */
  private account(outcome: Outcome, transport: Transport, started: bigint): Buffer | undefined {
    const { metrics } = this.p;
    if (outcome.kind === 'drop') {
      metrics.malformed.inc({ proto: transport, action: 'dropped' });
      return undefined;
    }
    if (outcome.kind === 'forward') return undefined;
    if (outcome.malformed) metrics.malformed.inc({ proto: transport, action: 'formerr' });
    if (outcome.truncated) metrics.truncated.inc();
    metrics.countRequest(transport, outcome.qtype, outcome.rcode);
    metrics.observeDuration(transport, Number(process.hrtime.bigint() - started) / 1e9);
    return outcome.wire;
  }

  private onDatagram(udp: UdpSocket, msg: Buffer, rinfo: RemoteInfo): void {
    const started = process.hrtime.bigint();
    let outcome: Outcome;
    try {
      outcome = this.outcome(msg, Transport.udp);
    } catch (err) {
      this.p.logger.error({ err }, 'unexpected error answering a UDP query');
      return;
    }
    const wire = this.account(outcome, Transport.udp, started);
    if (wire) udp.send(wire, rinfo.port, rinfo.address);
    else if (outcome.kind === 'forward') {
      void this.forward(msg, Transport.udp, outcome.qtype, started).then((reply) => {
        if (reply && this.udp === udp) udp.send(reply, rinfo.port, rinfo.address);
      });
    }
  }

  /** Forwards upstream; SERVFAIL (built from the query) when no upstream answered. */
  private async forward(msg: Buffer, transport: Transport, qtype: string, started: bigint): Promise<Buffer | undefined> {
    const reply = await this.p.upstream.forward(msg, transport);
    const { metrics } = this.p;
    metrics.forwarded.inc({ result: reply ? 'answered' : 'failed' });
    const rcode = reply ? reply.readUInt16BE(2) & 0xf : Rcode.SERVFAIL;
    metrics.countRequest(transport, qtype, rcode);
    metrics.observeDuration(transport, Number(process.hrtime.bigint() - started) / 1e9);
    if (reply) return reply;
    try {
      const q = dnsPacket.decode(msg);
      return dnsPacket.encode({ id: q.id ?? 0, type: 'response', flags: ((q.flags ?? 0) & dnsPacket.RECURSION_DESIRED) | dnsPacket.RECURSION_AVAILABLE | Rcode.SERVFAIL, questions: q.questions ?? [] });
    } catch {
      return undefined;
    }
  }

  private onConnection(socket: Socket): void {
    const { metrics } = this.p;
    this.connections.add(socket);
    metrics.tcpConnections.inc();
    socket.setNoDelay(true);
    socket.setTimeout(this.p.tcpIdleMs ?? 10_000, () => socket.destroy());
    const maxBuffered = this.p.tcpMaxBuffered ?? 1 << 20;
    let pending: Buffer = Buffer.alloc(0);
    // Forwarded answers may come back out of order (RFC 7766 allows it); local ones are in order.
    const send = (wire: Buffer): void => {
      if (socket.destroyed) return;
      const frame = Buffer.allocUnsafe(2 + wire.length);
      frame.writeUInt16BE(wire.length, 0);
      wire.copy(frame, 2);
      socket.write(frame);
      if (socket.writableLength > maxBuffered) socket.destroy();
    };
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= 2) {
        const size = pending.readUInt16BE(0);
        if (size > MAX_QUERY_SIZE || size < 12) {
          metrics.malformed.inc({ proto: 'tcp', action: 'closed' });
          socket.destroy();
          return;
        }
        if (pending.length < 2 + size) break;
        const msg = pending.subarray(2, 2 + size);
        pending = pending.subarray(2 + size);
        const started = process.hrtime.bigint();
        let outcome: Outcome;
        try {
          outcome = this.outcome(msg, Transport.tcp);
        } catch (err) {
          this.p.logger.error({ err }, 'unexpected error answering a TCP query');
          socket.destroy();
          return;
        }
        const wire = this.account(outcome, Transport.tcp, started);
        if (wire) send(wire);
        else if (outcome.kind === 'forward') {
          const copy = Buffer.from(msg);
          void this.forward(copy, Transport.tcp, outcome.qtype, started).then((reply) => reply && send(reply));
        } else {
          // A response or a headerless frame on a stream: the peer is not speaking DNS.
          socket.destroy();
          return;
        }
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.connections.delete(socket);
      metrics.tcpConnections.dec();
    });
  }
}
