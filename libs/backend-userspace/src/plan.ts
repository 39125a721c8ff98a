import { categorizeEndpoints, type EndpointInfo, type ProxyState, type RenderInput, type ServicePortInfo, type SessionAffinityInfo } from '@svcnet/proxy-core';
import type { Endpoint } from './balancer.js';
import { canonicalIPv4Cidr } from '@svcnet/ipam';

/** One proxy socket the node should have: a service port and where it sends traffic. */
export interface ProxyPlan {
  /** Service port id, `<ns>/<name>:<portName>`. */
  id: string;
  protocol: 'TCP' | 'UDP';
  clusterIP: string;
  port: number;
  /** 0 = no node port. */
  nodePort: number;
  externalIPs: readonly string[];
  affinity: SessionAffinityInfo;
  /**
   * The Cluster policy's endpoints (ready ones, else serving-and-terminating
   * ones) in a stable order: round-robin runs over this list. Served by the
   * socket `id`. Empty = the service has no endpoint at all (refused).
   */
  endpoints: readonly Endpoint[];
  /**
   * The Local policy's endpoints (this node's), when internalTrafficPolicy or
   * externalTrafficPolicy is Local: served by a second socket, `localSocketId(id)`.
   */
  localEndpoints?: readonly Endpoint[];
  internalPolicyLocal?: boolean;
  externalPolicyLocal?: boolean;
  loadBalancerIPs?: readonly string[];
  loadBalancerSourceRanges?: readonly string[];
  /** The agent answers kube-proxy's health check here; the filter rules accept it. */
  healthCheckNodePort?: number;
}

/** The socket that serves a service port's Local policy endpoints. */
export function localSocketId(id: string): string {
  return `${id}|local`;
}

/**
 * Every socket a proxy needs: id → the endpoints it balances over. The
 * Cluster policy's socket is kept even without endpoints, so a service keeps
 * its proxy port while its pods come and go.
 */
export function socketsOf(p: ProxyPlan): Array<[string, readonly Endpoint[]]> {
  const out: Array<[string, readonly Endpoint[]]> = [[p.id, p.endpoints]];
  if (p.localEndpoints && p.localEndpoints.length > 0) out.push([localSocketId(p.id), p.localEndpoints]);
  return out;
}

/**
 * The userspace mode's plan: the proxy sockets to hold and the addresses the
 * portal rules point at. Proxy ports are not in the plan: a socket keeps the
 * port it got when it opened (from `--proxy-port-range` or the kernel) for as
 * long as its service port exists, so re-rendering never moves a listener.
 */
export interface UserspacePlan {
  /** Rewrite the portal chains and re-check the jumps even when nothing changed. */
  full: boolean;
  bindAddress: string;
  hostPortalIP: string;
  /** --nodeport-addresses (IPv4, canonical): node ports answer only on local addresses inside them; empty = all. */
  nodePortAddresses: readonly string[];
  /** --cluster-cidr: pods (and the node itself) are not subject to externalTrafficPolicy Local. '' = unknown. */
  clusterCIDR: string;
  /** The node's IPv4 addresses (a load-balancer source range holding one lets the node in). */
  nodeIPs: readonly string[];
  proxies: readonly ProxyPlan[];
  /** Service ports this mode cannot serve (SCTP, IPv6) with the reason. */
  skipped: ReadonlyArray<{ id: string; reason: string }>;
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** Re-exported for this backend's callers and tests: the form iptables-save prints. */
export { canonicalIPv4Cidr };


function toEndpoints(list: readonly EndpointInfo[]): Endpoint[] {
  const eps = list.map((e) => ({ host: e.ip, port: e.port }));
  // Stable order so the round-robin position survives a resync of the same set.
  return eps.sort((a, b) => (a.host === b.host ? a.port - b.port : a.host < b.host ? -1 : 1));
}

function planOne(svc: ServicePortInfo, state: ProxyState): ProxyPlan {
  const cat = categorizeEndpoints(svc, state.endpoints.get(svc.id) ?? []);
  const usesLocal = svc.internalPolicyLocal || svc.externalPolicyLocal;
  return {
    id: svc.id,
    protocol: svc.protocol as 'TCP' | 'UDP',
    clusterIP: svc.clusterIP,
    port: svc.port,
    nodePort: svc.nodePort,
    externalIPs: svc.externalIPs.filter((ip) => IPV4.test(ip)),
    affinity: svc.sessionAffinity,
    endpoints: toEndpoints(cat.cluster),
    ...(usesLocal ? { localEndpoints: toEndpoints(cat.local) } : {}),
    ...(svc.internalPolicyLocal ? { internalPolicyLocal: true } : {}),
    ...(svc.externalPolicyLocal ? { externalPolicyLocal: true } : {}),
    ...(svc.loadBalancerIPs.length > 0 ? { loadBalancerIPs: svc.loadBalancerIPs.filter((ip) => IPV4.test(ip)) } : {}),
    ...(svc.healthCheckNodePort > 0 ? { healthCheckNodePort: svc.healthCheckNodePort } : {}),
    ...(svc.loadBalancerSourceRanges.length > 0 ? { loadBalancerSourceRanges: svc.loadBalancerSourceRanges.flatMap((c) => canonicalIPv4Cidr(c) ?? []) } : {}),
  };
}

/** Pure: the node's desired state → the userspace plan. */
export function renderUserspacePlan(
  input: Pick<RenderInput<UserspacePlan>, 'state' | 'config' | 'full'>,
  bindAddress: string,
): UserspacePlan {
  const proxies: ProxyPlan[] = [];
  const skipped: Array<{ id: string; reason: string }> = [];
  for (const svc of input.state.services.values()) {
    if (svc.protocol !== 'TCP' && svc.protocol !== 'UDP') {
      skipped.push({ id: svc.id, reason: `protocol ${svc.protocol} is not proxied in userspace mode` });
    } else if (!IPV4.test(svc.clusterIP)) {
      skipped.push({ id: svc.id, reason: `cluster IP ${svc.clusterIP} is not IPv4` });
    } else {
      proxies.push(planOne(svc, input.state));
    }
  }
  proxies.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  skipped.sort((a, b) => (a.id < b.id ? -1 : 1));
  const hostPortalIP = input.config.nodeIPs.find((ip) => IPV4.test(ip)) ?? '127.0.0.1';
  const nodePortAddresses = input.config.nodePortAddresses.flatMap((c) => canonicalIPv4Cidr(c) ?? []);
  const clusterCIDR = input.config.clusterCIDR ? (canonicalIPv4Cidr(input.config.clusterCIDR) ?? '') : '';
  const nodeIPs = input.config.nodeIPs.filter((ip) => IPV4.test(ip));
  return { full: input.full, bindAddress, hostPortalIP, nodePortAddresses, clusterCIDR, nodeIPs, proxies, skipped };
}
