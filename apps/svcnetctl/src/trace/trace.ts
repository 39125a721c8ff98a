/**
 * `svcnetctl trace`: which service and which endpoints a destination reaches,
 * worked out from the state (what every node's rules are rendered from), the
 * way kube-proxy's rules decide it: a ClusterIP:port or any node IP:nodePort
 * selects a service port; its ready endpoints (named target ports resolved per
 * subset) share the traffic; none ready means kube-proxy rejects the connection.
 * Pure: objects in, a result out.
 */
import type { Endpoints, Protocol, Service, ServicePort } from '@svcnet/model';

export interface TraceQuery {
  ip: string;
  port: number;
  protocol: Protocol;
  /** The node the traffic enters on (matters for the Local traffic policies). */
  node?: string;
}

export interface TracedEndpoint {
  ip: string;
  port: number;
  ready: boolean;
  nodeName: string;
  /** `namespace/name` of the backing pod, when known. */
  pod: string;
  /** False when externalTrafficPolicy Local excludes it (endpoint on another node). */
  eligible: boolean;
}

export type TraceResult =
  | { kind: 'none'; query: TraceQuery }
  | {
      kind: 'service';
      query: TraceQuery;
      service: Service;
      port: ServicePort;
      via: 'clusterIP' | 'nodePort' | 'externalIP';
      endpoints: TracedEndpoint[];
    };

function matchesPort(p: ServicePort, q: TraceQuery, byNodePort: boolean): boolean {
  return p.protocol === q.protocol && (byNodePort ? p.nodePort === q.port : p.port === q.port);
}

function endpointsFor(service: Service, port: ServicePort, eps: Endpoints | undefined, q: TraceQuery, local: boolean): TracedEndpoint[] {
  if (!eps) return [];
  const out: TracedEndpoint[] = [];
  for (const subset of eps.subsets) {
    const ep = subset.ports.find((p) => p.name === port.name && p.protocol === port.protocol);
    if (!ep) continue;
    for (const a of subset.addresses) {
      out.push({
        ip: a.ip,
        port: ep.port,
        ready: a.ready,
        nodeName: a.nodeName,
        pod: a.podRef ? `${a.podRef.namespace || service.metadata.namespace}/${a.podRef.name}` : '',
        // Local: a node only uses its own endpoints (for external traffic: no SNAT, client IP kept).
        eligible: !local || q.node === undefined || a.nodeName === q.node,
      });
    }
  }
  return out;
}

/** Finds the service port a destination hits, and the endpoints behind it. */
export function traceDestination(services: readonly Service[], endpoints: readonly Endpoints[], q: TraceQuery): TraceResult {
  const epsOf = (s: Service): Endpoints | undefined =>
    endpoints.find((e) => e.metadata.namespace === s.metadata.namespace && e.metadata.name === s.metadata.name);
  for (const service of services) {
    // Headless services ("None") have no virtual IP: nothing to match.
    const ips = (service.spec.clusterIPs.length > 0 ? service.spec.clusterIPs : [service.spec.clusterIP]).filter((ip) => ip !== 'None');
    if (ips.includes(q.ip) || service.spec.externalIPs.includes(q.ip)) {
      const port = service.spec.ports.find((p) => matchesPort(p, q, false));
      if (!port) continue;
      const via = ips.includes(q.ip) ? 'clusterIP' : 'externalIP';
      // internalTrafficPolicy governs cluster IP traffic, externalTrafficPolicy external IPs.
      const local =
        via === 'clusterIP' ? service.spec.internalTrafficPolicy === 'Local' : service.spec.externalTrafficPolicy === 'Local';
      return { kind: 'service', query: q, service, port, via, endpoints: endpointsFor(service, port, epsOf(service), q, local) };
    }
  }
  // Not a service IP: a node port on any node address.
  for (const service of services) {
    if (service.spec.type !== 'NodePort') continue;
    const port = service.spec.ports.find((p) => matchesPort(p, q, true));
    if (!port) continue;
    const local = service.spec.externalTrafficPolicy === 'Local';
    return { kind: 'service', query: q, service, port, via: 'nodePort', endpoints: endpointsFor(service, port, epsOf(service), q, local) };
  }
  return { kind: 'none', query: q };
}
