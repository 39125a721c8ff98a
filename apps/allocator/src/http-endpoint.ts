import type { Server } from 'node:http';
import { listenHttp, sendText } from '@svcnet/service-runtime';
import type { BindAddress } from '@svcnet/model';
import type { Registry } from 'prom-client';

/**
 * The allocator's HTTP side: /metrics (Prometheus), /healthz (200 while the
 * allocation store is open and connected, else 503 with the reason — the same
 * answer as gRPC health) and /livez (200 while the process runs).
 */
export function listenMetrics(bind: BindAddress, registry: Registry, problem: () => string | undefined): Promise<Server> {
  return listenHttp(bind, async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendText(res, 405, 'text/plain', 'method not allowed\n');
    if (path === '/livez') return sendText(res, 200, 'text/plain', 'ok\n');
    if (path === '/healthz') {
      const why = problem();
      return why === undefined ? sendText(res, 200, 'text/plain', 'ok\n') : sendText(res, 503, 'text/plain', `${why}\n`);
    }
    if (path === '/metrics') return sendText(res, 200, registry.contentType, await registry.metrics());
    sendText(res, 404, 'text/plain', 'not found\n');
  });
}
