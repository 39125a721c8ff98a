import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Service } from '@svcnet/model';

/** An address:port the agent itself depends on (its NATS servers). */
export interface ControlPlaneEndpoint {
  ip: string;
  port: number;
  /** Where it came from, for the log line (`nats://10.0.0.2:4222`). */
  source: string;
}

const NATS_DEFAULT_PORT = 4222;

/** host and port of each server in a NATS URL list (`nats://h:p`, `tls://h:p`, `h:p`, `h`). */
export function parseServerList(urls: string, defaultPort = NATS_DEFAULT_PORT): { host: string; port: number; source: string }[] {
  return urls
    .split(',')
    .map((u) => u.trim())
    .filter(Boolean)
    .map((source) => {
      const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(source) ? source : `nats://${source}`;
      const url = new URL(withScheme);
      const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
      return { host, port: url.port ? Number(url.port) : defaultPort, source };
    });
}

/** Resolves the servers to addresses (a name may stand for several). */
export async function resolveControlPlane(
  urls: string,
  resolve: (host: string) => Promise<string[]> = async (h) => (await lookup(h, { all: true })).map((a) => a.address),
): Promise<ControlPlaneEndpoint[]> {
  const out: ControlPlaneEndpoint[] = [];
  for (const s of parseServerList(urls)) {
    const ips = isIP(s.host) ? [s.host] : await resolve(s.host).catch(() => []);
    for (const ip of ips) out.push({ ip, port: s.port, source: s.source });
  }
  return out;
}

/** What {@link guardService} took out of a service, and the service without it. */
export interface GuardResult {
  service: Service;
  /** One line per address taken out, naming the control-plane endpoint it would have captured. */
  dropped: string[];
}

/**
 * Takes out of a service every address that would capture the agent's own
 * connection to its control plane: an external IP, a cluster IP or a node
 * port equal to a NATS server's address and port. Programmed, such a rule
 * would DNAT the node's NATS connection to a pod, so a restarted agent could
 * never reconnect, and would never hear that the service was deleted — the
 * hole Kubernetes closed for external IPs (CVE-2020-8554). Everything else of
 * the service is programmed as usual.
 */
export function guardService(svc: Service, endpoints: readonly ControlPlaneEndpoint[], nodeIPs: readonly string[]): GuardResult {
  if (endpoints.length === 0) return { service: svc, dropped: [] };
  const dropped: string[] = [];
  const tcpPorts = new Set(svc.spec.ports.filter((p) => p.protocol === 'TCP').map((p) => p.port));
  const hit = (ip: string, port: number): ControlPlaneEndpoint | undefined => endpoints.find((e) => e.ip === ip && e.port === port);

  const externalIPs = svc.spec.externalIPs.filter((ip) => {
    const ep = endpoints.find((e) => e.ip === ip && tcpPorts.has(e.port));
    if (ep) dropped.push(`externalIP ${ip} (it would capture ${ep.source})`);
    return !ep;
  });
  // Load-balancer ingress IPs are programmed like external IPs: the same capture.
  const ingress = (svc.status?.loadBalancer.ingress ?? []).filter((i) => {
    const ep = endpoints.find((e) => e.ip === i.ip && tcpPorts.has(e.port));
    if (ep) dropped.push(`load-balancer IP ${i.ip} (it would capture ${ep.source})`);
    return !ep;
  });
  const clusterIPs = svc.spec.clusterIPs.length > 0 ? svc.spec.clusterIPs : [svc.spec.clusterIP];
  const local = new Set(nodeIPs);
  const ports = svc.spec.ports
    .filter((p) => {
      if (p.protocol !== 'TCP') return true;
      const ep = clusterIPs.map((ip) => hit(ip, p.port)).find(Boolean);
      if (ep) dropped.push(`port ${p.port} on cluster IP ${ep.ip} (it would capture ${ep.source})`);
      return !ep;
    })
    .map((p) => {
      if (p.protocol !== 'TCP' || p.nodePort === 0) return p;
      // A node port is matched on every local address, so a NATS server on this node is at risk.
      const ep = endpoints.find((e) => e.port === p.nodePort && (local.has(e.ip) || e.ip.startsWith('127.') || e.ip === '::1'));
      if (!ep) return p;
      dropped.push(`node port ${p.nodePort} (it would capture ${ep.source})`);
      return { ...p, nodePort: 0 };
    });
  if (dropped.length === 0) return { service: svc, dropped };
  const status = svc.status ? { status: { loadBalancer: { ingress } } } : {};
  return { service: { ...svc, spec: { ...svc.spec, externalIPs, ports }, ...status }, dropped };
}
