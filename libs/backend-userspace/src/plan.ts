import type { EndpointInfo, ProxyState, RenderInput, ServicePortInfo, SessionAffinityInfo } from '@svcnet/proxy-core';
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
  /** Ready endpoints in a stable order (round-robin runs over this list). */
  endpoints: readonly Endpoint[];
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
  proxies: readonly ProxyPlan[];
  /** Service ports this mode cannot serve (SCTP, IPv6) with the reason. */
  skipped: ReadonlyArray<{ id: string; reason: string }>;
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** Re-exported for this backend's callers and tests: the form iptables-save prints. */
export { canonicalIPv4Cidr };


function readyEndpoints(list: readonly EndpointInfo[] | undefined, localOnly: boolean): Endpoint[] {
  const ready = (list ?? []).filter((e) => e.ready && !e.terminating && (!localOnly || e.isLocal));
  const eps = ready.map((e) => ({ host: e.ip, port: e.port }));
  // Stable order so the round-robin position survives a resync of the same set.
  return eps.sort((a, b) => (a.host === b.host ? a.port - b.port : a.host < b.host ? -1 : 1));
}

function planOne(svc: ServicePortInfo, state: ProxyState): ProxyPlan {
  return {
    id: svc.id,
    protocol: svc.protocol as 'TCP' | 'UDP',
    clusterIP: svc.clusterIP,
    port: svc.port,
    nodePort: svc.nodePort,
    externalIPs: svc.externalIPs.filter((ip) => IPV4.test(ip)),
    affinity: svc.sessionAffinity,
    // One socket serves cluster IP and node port traffic alike, so only
    // internalTrafficPolicy can be honoured (a proxy never preserves the client IP).
    endpoints: readyEndpoints(state.endpoints.get(svc.id), svc.internalPolicyLocal),
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
  return { full: input.full, bindAddress, hostPortalIP, nodePortAddresses, proxies, skipped };
}
