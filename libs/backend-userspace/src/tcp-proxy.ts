import { connect, createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { endpointKey, type Endpoint, type RoundRobinBalancer } from './balancer.js';
import type { ProxyMetrics } from './metrics.js';

/** kube-proxy's userspace dial timeouts: each failed try moves to the next endpoint. */
export const DEFAULT_DIAL_TIMEOUTS_MS: readonly number[] = [250, 500, 1000, 2000];

/** What a proxy socket (TCP or UDP) needs to serve one service port. */
export interface ProxySocketParams {
  id: string;
  balancer: RoundRobinBalancer;
  metrics: ProxyMetrics;
  logger: Logger;
}

interface Conn {
  client: Socket;
  upstream: Socket | undefined;
}

class DialError extends Error {
  override readonly name = 'DialError';
}

/**
 * One TCP proxy socket: accepts clients, dials an endpoint (retrying the next
 * one with growing timeouts) and splices the two sockets with backpressure and
 * half-close. Existing connections outlive `closeListener()`.
 */
export class TcpProxySocket {
  readonly protocol = 'TCP';
  private readonly server: Server;
  private readonly conns = new Set<Conn>();
  private readonly params: ProxySocketParams;
  private readonly dialTimeoutsMs: readonly number[];

  constructor(params: ProxySocketParams & { dialTimeoutsMs?: readonly number[] }) {
    this.params = params;
    this.dialTimeoutsMs = params.dialTimeoutsMs ?? DEFAULT_DIAL_TIMEOUTS_MS;
    // pauseOnConnect: the client's first bytes wait in the kernel until an endpoint answers.
    this.server = createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, (c) => this.accept(c));
  }

  /** Binds and listens; resolves with the port (useful with port 0). */
  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.server.once('error', onError);
      this.server.listen({ host, port, exclusive: true, backlog: 1024 }, () => {
        this.server.removeListener('error', onError);
        this.server.on('error', (err) => this.params.logger.error({ err, service: this.params.id }, 'tcp proxy listener error'));
        const addr = this.server.address();
        resolve(typeof addr === 'object' && addr ? addr.port : port);
      });
    });
  }

  get listening(): boolean {
    return this.server.listening;
  }

  /** Open client connections (dialing or spliced). */
  get activeConnections(): number {
    return this.conns.size;
  }

  /** Stops accepting; connections already proxied continue until they end. */
  closeListener(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.server.listening) return resolve();
      // server.close() waits for connections; resolve once the socket is unbound.
      this.server.close();
      setImmediate(resolve);
    });
  }

  /** Stops accepting and resets every connection (cleanup). */
  async destroy(): Promise<void> {
    await this.closeListener();
    for (const c of this.conns) {
      c.upstream?.destroy();
      c.client.destroy();
    }
  }

  private accept(client: Socket): void {
    const { id, metrics } = this.params;
    const conn: Conn = { client, upstream: undefined };
    this.conns.add(conn);
    const done = metrics.opened(id, 'TCP', { bytesIn: () => client.bytesRead, bytesOut: () => client.bytesWritten });
    client.on('error', () => undefined); // reported through 'close'
    client.once('close', () => {
      this.conns.delete(conn);
      done();
      if (conn.upstream && (!client.readableEnded || !client.writableFinished)) conn.upstream.destroy();
    });
    this.dialAny(client, conn).then(
      (upstream) => this.splice(client, upstream),
      (err: unknown) => {
        this.params.logger.debug({ err, service: id, client: client.remoteAddress }, 'closing client: no endpoint reachable');
        client.destroy();
      },
    );
  }

  private async dialAny(client: Socket, conn: Conn): Promise<Socket> {
    const clientIP = client.remoteAddress ?? '';
    const tried = new Set<string>();
    for (let attempt = 0; attempt < this.dialTimeoutsMs.length; attempt++) {
      if (client.destroyed) throw new DialError('client went away while dialing');
      const ep = this.params.balancer.next(this.params.id, clientIP, tried);
      if (!ep) throw new DialError('service has no ready endpoints');
      tried.add(endpointKey(ep));
      try {
        const upstream = await this.dial(ep, this.dialTimeoutsMs[attempt]!, conn);
        if (client.destroyed) {
          upstream.destroy();
          throw new DialError('client went away while dialing');
        }
        return upstream;
      } catch (err) {
        if (err instanceof DialError) throw err;
        this.params.metrics.dialFailed(this.params.id);
        this.params.logger.debug({ err, service: this.params.id, endpoint: `${ep.host}:${ep.port}` }, 'dial failed');
      }
    }
    throw new DialError(`all ${this.dialTimeoutsMs.length} dial attempts failed`);
  }

  private dial(ep: Endpoint, timeoutMs: number, conn: Conn): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const upstream = connect({ host: ep.host, port: ep.port, allowHalfOpen: true, noDelay: true });
      conn.upstream = upstream;
      const timer = setTimeout(() => fail(new Error(`connect timeout after ${timeoutMs} ms`)), timeoutMs);
      const fail = (err: Error): void => {
        clearTimeout(timer);
        upstream.removeListener('connect', ok);
        upstream.removeListener('close', aborted);
        upstream.destroy();
        if (conn.upstream === upstream) conn.upstream = undefined;
        reject(err);
      };
      // Destroyed before connecting: the client went away and took the dial with it.
      const aborted = (): void => fail(new DialError('dial aborted'));
      const ok = (): void => {
        clearTimeout(timer);
        upstream.removeListener('error', fail);
        upstream.removeListener('close', aborted);
        resolve(upstream);
      };
      upstream.once('connect', ok);
      upstream.once('error', fail);
      upstream.once('close', aborted);
    });
  }

  private splice(client: Socket, upstream: Socket): void {
    upstream.on('error', () => undefined); // reported through 'close'
    upstream.once('close', () => {
      // A reset or abort on one side ends the other; a clean close already ended it.
      if (!upstream.readableEnded || !upstream.writableFinished) client.destroy();
    });
    // pipe() keeps backpressure in both directions and, with allowHalfOpen,
    // turns each side's FIN into end() on the other (half-close preserved).
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
