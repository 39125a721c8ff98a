import { createServer, type Server } from 'node:http';
import type { BindAddress } from '@svcnet/model';
import type { Registry } from 'prom-client';

/**
 * The allocator's HTTP side: /metrics (Prometheus), /healthz (200 while the
 * allocation store is open and connected, else 503 with the reason — the same
 * answer as gRPC health) and /livez (200 while the process runs).
 */
export async function listenHttp(bind: BindAddress, registry: Registry, serving: () => string | undefined): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (code: number, type: string, body: string) => {
      res.writeHead(code, { 'content-type': type, 'x-content-type-options': 'nosniff' });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'text/plain', 'method not allowed\n');
    if (path === '/livez') return send(200, 'text/plain', 'ok\n');
    if (path === '/healthz') {
      const problem = serving();
      return problem === undefined ? send(200, 'text/plain', 'ok\n') : send(503, 'text/plain', `${problem}\n`);
    }
    if (path === '/metrics') {
      registry.metrics().then(
        (text) => send(200, registry.contentType, text),
        (err: unknown) => send(500, 'text/plain', `${err instanceof Error ? err.message : String(err)}\n`),
      );
      return;
    }
    send(404, 'text/plain', 'not found\n');
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
