import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { closeHttp, listenHttp, sendText } from '@svcnet/service-runtime';
import type { Registry } from 'prom-client';
import type { HealthReport } from './healthz.js';
import type { BindAddress } from './flags.js';

/** What the debug endpoints show; the agent supplies it. */
export interface DebugSource {
  /** The programmed plan as text (backend.describe), undefined before the first sync. */
  plan(): string | undefined;
  /** The agent's view: desired state, sync status, config. JSON-serialisable. */
  state(): unknown;
}

/** Which routes a listener serves. */
export interface RouteSet {
  health: () => HealthReport;
  registry?: Registry;
  debug?: DebugSource;
}


/** The request handler: /healthz and /livez always; /metrics and /debug/* when given. */
export function createHandler(routes: RouteSet) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendText(res, 405, 'text/plain', 'method not allowed\n');
    switch (path) {
      case '/healthz':
      case '/livez': {
        const { healthy, ...report } = routes.health();
        return sendText(res, healthy ? 200 : 503, 'application/json', `${JSON.stringify(report)}\n`);
      }
      case '/metrics':
        if (!routes.registry) break;
        return sendText(res, 200, routes.registry.contentType, await routes.registry.metrics());
      case '/debug/plan': {
        if (!routes.debug) break;
        const plan = routes.debug.plan();
        return plan === undefined
          ? sendText(res, 503, 'text/plain', 'no plan programmed yet\n')
          : sendText(res, 200, 'text/plain; charset=utf-8', plan.endsWith('\n') ? plan : `${plan}\n`);
      }
      case '/debug/state':
        if (!routes.debug) break;
        return sendText(res, 200, 'application/json', `${JSON.stringify(routes.debug.state(), null, 2)}\n`);
      default:
        break;
    }
    sendText(res, 404, 'text/plain', 'not found\n');
  };
}

/** Starts one listener; resolves once it is bound (rejects on EADDRINUSE etc.). */
export async function listen(bind: BindAddress, routes: RouteSet): Promise<Server> {
  return listenHttp(bind, createHandler(routes));
}

/** Closes a listener, dropping idle keep-alive connections. */
export const closeServer = closeHttp;
