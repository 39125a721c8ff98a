import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

/** Where to listen: an IP (0.0.0.0 / :: for all) and a port (0 = any free one). */
export interface HttpBind {
  host: string;
  port: number;
}

/** An async request handler; a rejection becomes a 500 (or a dropped connection once headers went out). */
export type AsyncHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/** Answers with a status, a content type and a body (nosniff, as the Kubernetes components do). */
export function sendText(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'content-type': contentType, 'x-content-type-options': 'nosniff' });
  res.end(body);
}

/** Starts a listener; resolves once bound, rejects on EADDRINUSE and the like (instead of crashing later). */
export async function listenHttp(bind: HttpBind, handler: AsyncHandler): Promise<Server> {
  const server = createServer((req, res) => {
    handler(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendText(res, 500, 'text/plain', `${err instanceof Error ? err.message : String(err)}\n`);
      else res.destroy(err instanceof Error ? err : undefined);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(bind.port, bind.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

/** The port a listener got (useful with port 0). */
export function boundPort(server: Server): number {
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('listener is not bound to a TCP port');
  return address.port;
}

/** Closes a listener, dropping idle keep-alive connections. */
export async function closeHttp(server: Server): Promise<void> {
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
