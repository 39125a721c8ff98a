import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { endpointKey } from './balancer.js';
import type { ProxySocketParams } from './tcp-proxy.js';

/** kube-proxy's `--udp-timeout` default: a client's upstream socket closes after this much silence. */
export const DEFAULT_UDP_IDLE_TIMEOUT_MS = 250;

interface Session {
  key: string;
  client: RemoteInfo;
  /** endpointKey of the endpoint this client's datagrams go to. */
  endpoint: string;
  upstream: Socket;
  /** Datagrams sent before the upstream socket finished connecting. */
  queue: Buffer[] | undefined;
  lastActiveMs: number;
  timer: NodeJS.Timeout;
  done: () => void;
  bytesIn: number;
  bytesOut: number;
}

/**
 * One UDP proxy socket. Each client address gets its own connected upstream
 * socket to one endpoint, so replies go back to the right client; the socket
 * closes after `idleTimeoutMs` without traffic either way.
 */
export class UdpProxySocket {
  readonly protocol = 'UDP';
  private socket: Socket | undefined;
  private readonly sessions = new Map<string, Session>();
  /** Clients whose last endpoint refused: their next datagram avoids it (and affinity). */
  private readonly failedEndpoint = new Map<string, string>();
  private readonly params: ProxySocketParams;
  private readonly idleTimeoutMs: number;

  constructor(params: ProxySocketParams & { idleTimeoutMs?: number }) {
    this.params = params;
    this.idleTimeoutMs = params.idleTimeoutMs ?? DEFAULT_UDP_IDLE_TIMEOUT_MS;
  }

  listen(host: string, port: number): Promise<number> {
    const socket = createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4', reuseAddr: false });
    this.socket = socket;
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => {
        this.socket = undefined;
        socket.close();
        reject(err);
      };
      socket.once('error', onError);
      socket.bind({ address: host, port, exclusive: true }, () => {
        socket.removeListener('error', onError);
        socket.on('error', (err) => this.params.logger.error({ err, service: this.params.id }, 'udp proxy socket error'));
        socket.on('message', (msg, rinfo) => this.fromClient(msg, rinfo));
        resolve(socket.address().port);
      });
    });
  }

  get listening(): boolean {
    return this.socket !== undefined;
  }

  /** Client sessions open now. */
  get activeConnections(): number {
    return this.sessions.size;
  }

  /** Closes the proxy socket; sessions cannot reply without it, so they close too. */
  closeListener(): Promise<void> {
    return this.destroy();
  }

  destroy(): Promise<void> {
    for (const s of [...this.sessions.values()]) this.closeSession(s);
    const socket = this.socket;
    this.socket = undefined;
    if (!socket) return Promise.resolve();
    return new Promise((resolve) => socket.close(() => resolve()));
  }

  /**
   * Closes the sessions of endpoints not in `ready` (by endpointKey): the
   * userspace twin of the `conntrack -D` the iptables mode runs for UDP. A
   * client that keeps sending would otherwise stay on a removed endpoint for as
   * long as it never pauses for the idle timeout; its next datagram now picks
   * a ready endpoint. Returns how many sessions were closed.
   */
  closeSessionsExcept(ready: ReadonlySet<string>): number {
    let closed = 0;
    for (const s of [...this.sessions.values()]) {
      if (ready.has(s.endpoint)) continue;
      this.closeSession(s);
      closed++;
    }
    return closed;
  }

  private fromClient(msg: Buffer, rinfo: RemoteInfo): void {
    const key = `${rinfo.address}|${rinfo.port}`;
    const session = this.sessions.get(key) ?? this.openSession(key, rinfo);
    if (!session) return;
    session.lastActiveMs = performance.now();
    session.bytesIn += msg.length;
    if (session.queue) session.queue.push(msg);
    else session.upstream.send(msg);
  }

  private openSession(key: string, client: RemoteInfo): Session | undefined {
    const { id, balancer, metrics, logger } = this.params;
    const failed = this.failedEndpoint.get(key);
    this.failedEndpoint.delete(key);
    const ep = balancer.next(id, client.address, failed ? new Set([failed]) : undefined);
    if (!ep) {
      logger.debug({ service: id, client: client.address }, 'dropping datagram: no ready endpoints');
      return undefined;
    }
    const upstream = createSocket(isIPv6(ep.host) ? 'udp6' : 'udp4');
    const session: Session = {
      key,
      client,
      endpoint: endpointKey(ep),
      upstream,
      queue: [],
      lastActiveMs: performance.now(),
      timer: setTimeout(() => this.checkIdle(session), this.idleTimeoutMs),
      done: () => undefined,
      bytesIn: 0,
      bytesOut: 0,
    };
    session.done = metrics.opened(id, 'UDP', { bytesIn: () => session.bytesIn, bytesOut: () => session.bytesOut });
    this.sessions.set(key, session);
    upstream.on('message', (reply) => {
      session.lastActiveMs = performance.now();
      session.bytesOut += reply.length;
      this.socket?.send(reply, client.port, client.address);
    });
    upstream.on('error', (err) => {
      // ICMP port unreachable on a connected socket: count it, and let the
      // client's next datagram pick another endpoint.
      metrics.dialFailed(id);
      logger.debug({ err, service: id, endpoint: `${ep.host}:${ep.port}` }, 'udp endpoint error');
      if (this.failedEndpoint.size > 10_000) this.failedEndpoint.clear(); // bound memory under a flood
      this.failedEndpoint.set(key, endpointKey(ep));
      this.closeSession(session);
    });
    upstream.connect(ep.port, ep.host, () => {
      const queued = session.queue ?? [];
      session.queue = undefined;
      for (const m of queued) upstream.send(m);
    });
    return session;
  }

  private checkIdle(session: Session): void {
    const idle = performance.now() - session.lastActiveMs;
    if (idle >= this.idleTimeoutMs) this.closeSession(session);
    else session.timer = setTimeout(() => this.checkIdle(session), this.idleTimeoutMs - idle);
  }

  private closeSession(session: Session): void {
    if (this.sessions.get(session.key) !== session) return;
    this.sessions.delete(session.key);
    clearTimeout(session.timer);
    session.done();
    try {
      session.upstream.close();
    } catch {
      // already closed by an error: nothing left to release
    }
  }
}
