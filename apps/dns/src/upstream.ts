import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect as tcpConnect } from 'node:net';
import { isIPv6 } from 'node:net';
import type { Transport } from './message.js';

/** An upstream resolver address. */
export interface UpstreamAddress {
  host: string;
  port: number;
}

/** Parameters of an {@link UpstreamForwarder}. */
export interface UpstreamParams {
  servers: readonly UpstreamAddress[];
  /** Per try; each server is tried once, in order. Default 2 s. */
  timeoutMs?: number;
}

interface Pending {
  resolve(reply: Buffer | undefined): void;
  timer: NodeJS.Timeout;
  clientId: number;
}

/**
 * Forwards queries for names outside the cluster domain, as CoreDNS's
 * `forward` does: the client's own message, with a fresh ID over one shared
 * UDP socket per family (TCP clients are forwarded over TCP). Servers are
 * tried in order; undefined when none answered (the caller says SERVFAIL).
 */
export class UpstreamForwarder {
  private readonly servers: readonly UpstreamAddress[];
  private readonly timeoutMs: number;
  private readonly sockets = new Map<'udp4' | 'udp6', UdpSocket>();
  private readonly pending = new Map<number, Pending>();
  private nextId = Math.floor(Math.random() * 0x10000);

  constructor(params: UpstreamParams) {
    this.servers = params.servers;
    this.timeoutMs = params.timeoutMs ?? 2000;
  }

  get configured(): boolean {
    return this.servers.length > 0;
  }

  /** Forwards `query`; resolves with the upstream's reply (the client's ID restored), or undefined. */
  async forward(query: Buffer, transport: Transport): Promise<Buffer | undefined> {
    for (const server of this.servers) {
      const reply = transport === 'tcp' ? await this.overTcp(query, server) : await this.overUdp(query, server);
      if (reply) return reply;
    }
    return undefined;
  }

  close(): void {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.resolve(undefined);
    }
    this.pending.clear();
    for (const s of this.sockets.values()) s.close();
    this.sockets.clear();
  }

  private socket(family: 'udp4' | 'udp6'): UdpSocket {
    let s = this.sockets.get(family);
    if (s) return s;
    s = createSocket(family);
    s.on('message', (msg) => this.onReply(msg));
    s.on('error', () => undefined); // ICMP errors and the like: the try times out
    s.unref();
    this.sockets.set(family, s);
    return s;
  }

  private onReply(msg: Buffer): void {
    if (msg.length < 12) return;
    const id = msg.readUInt16BE(0);
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    const out = Buffer.from(msg);
    out.writeUInt16BE(p.clientId, 0);
    p.resolve(out);
  }

  private freeId(): number {
    for (let i = 0; i < 0x10000; i++) {
      this.nextId = (this.nextId + 1) & 0xffff;
      if (!this.pending.has(this.nextId)) return this.nextId;
    }
    throw new Error('no free upstream query ID');
  }

  private overUdp(query: Buffer, server: UpstreamAddress): Promise<Buffer | undefined> {
    return new Promise((resolve) => {
      let id: number;
      try {
        id = this.freeId();
      } catch {
        resolve(undefined);
        return;
      }
      const out = Buffer.from(query);
      out.writeUInt16BE(id, 0);
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve(undefined);
      }, this.timeoutMs);
      this.pending.set(id, { resolve, timer, clientId: query.readUInt16BE(0) });
      this.socket(isIPv6(server.host) ? 'udp6' : 'udp4').send(out, server.port, server.host);
    });
  }

  private overTcp(query: Buffer, server: UpstreamAddress): Promise<Buffer | undefined> {
    return new Promise((resolve) => {
      const socket = tcpConnect({ host: server.host, port: server.port });
      let data = Buffer.alloc(0);
      let done = false;
      const finish = (reply: Buffer | undefined): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        socket.destroy();
        resolve(reply);
      };
      const timer = setTimeout(() => finish(undefined), this.timeoutMs);
      socket.on('connect', () => {
        const frame = Buffer.alloc(2 + query.length);
        frame.writeUInt16BE(query.length, 0);
        query.copy(frame, 2);
        socket.write(frame);
      });
      socket.on('data', (chunk: Buffer) => {
        data = Buffer.concat([data, chunk]);
        if (data.length >= 2 && data.length >= 2 + data.readUInt16BE(0)) finish(data.subarray(2, 2 + data.readUInt16BE(0)));
      });
      socket.on('error', () => finish(undefined));
      socket.on('close', () => finish(undefined));
    });
  }
}

/** Parses `ADDR[:PORT]` / `[v6]:PORT` lists (`--upstream 192.168.1.1,[fd00::1]:5353`). */
export function parseUpstreams(text: string): UpstreamAddress[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
      if (bracket) return { host: bracket[1]!, port: bracket[2] ? Number(bracket[2]) : 53 };
      const parts = entry.split(':');
      if (parts.length === 2) return { host: parts[0]!, port: Number(parts[1]) };
      return { host: entry, port: 53 };
    });
}
