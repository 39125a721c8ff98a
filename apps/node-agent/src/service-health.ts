/**
 * kube-proxy's service health check server: for every LoadBalancer service
 * with externalTrafficPolicy Local, an HTTP listener on its
 * healthCheckNodePort that tells an external load balancer whether this node
 * has ready endpoints of the service (200, with their count) or not (503), so
 * that it sends outside traffic only to nodes that keep it.
 */
import { createServer, type Server } from 'node:http';
import { isIPv4 } from 'node:net';
import type { ProxyLogger, ProxyState } from '@svcnet/proxy-core';

/** What one health check port answers for. */
export interface HealthCheckTarget {
  namespace: string;
  name: string;
  /** This node's ready endpoints of the service (distinct addresses over its ports). */
  localEndpoints: number;
}

/** healthCheckNodePort → its service, from the proxier's state. */
export function healthCheckTargets(state: ProxyState): Map<number, HealthCheckTarget> {
  const byPort = new Map<number, { namespace: string; name: string; ips: Set<string> }>();
  for (const svc of state.services.values()) {
    if (svc.healthCheckNodePort <= 0) continue;
    let t = byPort.get(svc.healthCheckNodePort);
    if (!t) byPort.set(svc.healthCheckNodePort, (t = { namespace: svc.namespace, name: svc.name, ips: new Set() }));
    // As kube-proxy: only ready endpoints count (a terminating pod makes the node fail the check, so traffic drains).
    for (const e of state.endpoints.get(svc.id) ?? []) if (e.isLocal && e.ready) t.ips.add(e.ip);
  }
  return new Map([...byPort].map(([port, t]) => [port, { namespace: t.namespace, name: t.name, localEndpoints: t.ips.size }]));
}

/** The answer kube-proxy gives: status, headers and its JSON body (tab-indented, as Go's MarshalIndent). */
export function healthCheckResponse(t: HealthCheckTarget, proxyHealthy: boolean): { status: number; headers: Record<string, string>; body: string } {
  const body = JSON.stringify({ service: { namespace: t.namespace, name: t.name }, localEndpoints: t.localEndpoints, serviceProxyHealthy: proxyHealthy }, null, '\t');
  return {
    status: t.localEndpoints > 0 && proxyHealthy ? 200 : 503,
    headers: { 'Content-Type': 'application/json', 'X-Content-Type-Options': 'nosniff', 'X-Load-Balancing-Endpoint-Weight': String(t.localEndpoints) },
    body,
  };
}

/** Parameters of a {@link ServiceHealthServer}. */
export interface ServiceHealthServerParams {
  /** Addresses to listen on: every address (`0.0.0.0`) unless --nodeport-addresses narrows it. */
  hosts: readonly string[];
  /** The proxy's own health (kube-proxy answers 503 while it is unhealthy). */
  proxyHealthy: () => boolean;
  logger: ProxyLogger;
}

/** The node's addresses a health check listens on: as node ports, every address unless --nodeport-addresses. */
export function healthCheckHosts(nodeIPs: readonly string[], nodePortAddresses: readonly string[], inCidr: (ip: string, cidr: string) => boolean): string[] {
  if (nodePortAddresses.length === 0) return ['0.0.0.0'];
  return nodeIPs.filter((ip) => isIPv4(ip) && nodePortAddresses.some((c) => inCidr(ip, c)));
}

/**
 * Listeners on the health check node ports, opened and closed as services
 * come and go (`sync` after every programmed change). A port that cannot be
 * opened is logged and tried again at the next sync.
 */
export class ServiceHealthServer {
  private readonly targets = new Map<number, HealthCheckTarget>();
  private readonly servers = new Map<number, Server[]>();

  constructor(private readonly params: ServiceHealthServerParams) {}

  /** The ports listening now. */
  ports(): number[] {
    return [...this.servers.keys()].sort((a, b) => a - b);
  }

  async sync(targets: ReadonlyMap<number, HealthCheckTarget>): Promise<void> {
    this.targets.clear();
    for (const [port, t] of targets) this.targets.set(port, t);
    for (const [port, servers] of [...this.servers]) {
      if (targets.has(port)) continue;
      this.servers.delete(port);
      await Promise.all(servers.map(close));
    }
    for (const port of targets.keys()) {
      if (this.servers.has(port)) continue;
      const opened: Server[] = [];
      try {
        for (const host of this.params.hosts) opened.push(await this.listen(host, port));
        this.servers.set(port, opened);
      } catch (err) {
        await Promise.all(opened.map(close));
        this.params.logger.error({ err, port }, 'cannot open a service health check port; retrying at the next sync');
      }
    }
  }

  async close(): Promise<void> {
    const all = [...this.servers.values()].flat();
    this.servers.clear();
    await Promise.all(all.map(close));
  }

  private listen(host: string, port: number): Promise<Server> {
    const server = createServer((req, res) => {
      const t = this.targets.get(port);
      if (!t) {
        res.writeHead(404).end();
        return;
      }
      const r = healthCheckResponse(t, this.params.proxyHealthy());
      res.writeHead(r.status, r.headers).end(r.body);
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve(server);
      });
    });
  }
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
