import type { Server } from 'node:http';
import type { Registry } from 'prom-client';
import { listenHttp, sendText, type HttpBind } from './http.js';

/**
 * A service's HTTP side: /metrics (Prometheus), /healthz (200, or 503 with
 * the reason `problem()` gives — the same answer as the service's gRPC
 * health) and /livez (200 while the process runs).
 */
export function listenMetrics(bind: HttpBind, registry: Registry, problem: () => string | undefined): Promise<Server> {
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
