import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { closeHttp, listenHttp, sendText } from '@svcnet/service-runtime';
import { Counter, type Registry } from 'prom-client';
import type { HealthReport } from './healthz.js';
import type { BindAddress } from './flags.js';

/** What the debug endpoints show; the agent supplies it. */
export interface DebugSource {
  /** The programmed plan as text (backend.describe), undefined before the first sync. */
  plan(): string | undefined;
  /** The agent's view: desired state, sync status, config. JSON-serialisable. */
  state(): unknown;
}

/** kube-proxy's probe counters: answers of /healthz and /livez by HTTP code. */
export interface ProbeCounters {
  healthz: Counter<'code'>;
  livez: Counter<'code'>;
}

/** Registers kube-proxy's `kubeproxy_proxy_healthz_total` and `kubeproxy_proxy_livez_total`. */
export function registerProbeCounters(registry: Registry): ProbeCounters {
  const registers = [registry];
  return {
    healthz: new Counter({ name: 'kubeproxy_proxy_healthz_total', help: 'Cumulative proxy healthz HTTP status', labelNames: ['code'], registers }),
    livez: new Counter({ name: 'kubeproxy_proxy_livez_total', help: 'Cumulative proxy livez HTTP status', labelNames: ['code'], registers }),
  };
}

/** Which routes a listener serves. */
export interface RouteSet {
  health: () => HealthReport;
  registry?: Registry;
  debug?: DebugSource;
  /** Counts probe answers when given. */
  probes?: ProbeCounters;
  /** Served as text on /proxyMode (kube-proxy serves it on its metrics address). */
  proxyMode?: string;
}


/** The request handler: /healthz and /livez always; /metrics, /proxyMode and /debug/* when given. */
export function createHandler(routes: RouteSet) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendText(res, 405, 'text/plain', 'method not allowed\n');
    switch (path) {
      case '/healthz':
      case '/livez': {
        const { healthy, ...report } = routes.health();
        const code = healthy ? 200 : 503;
        routes.probes?.[path === '/healthz' ? 'healthz' : 'livez'].inc({ code: String(code) });
        return sendText(res, code, 'application/json', `${JSON.stringify(report)}\n`);
      }
      case '/proxyMode':
        if (routes.proxyMode === undefined) break;
        return sendText(res, 200, 'text/plain', routes.proxyMode);
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
