import type { Protocol } from '@svcnet/model';
import type { EndpointInfo, ServicePortInfo } from '@svcnet/proxy-core';

/** The first packet of a connection, as every backend's packet tracer takes it. */
export interface ReachPacket {
  src: string;
  dst: string;
  dport: number;
  protocol: Protocol;
  /** The destination is one of the node's addresses. */
  dstLocal?: boolean;
}

/** What a packet tracer found (the iptables and nftables tracers both answer this shape). */
export interface ReachTrace {
  endpoints: readonly string[];
  rejected: boolean;
  dropped: boolean;
  masqueraded: boolean;
  alwaysMasqueraded: boolean;
}

/** Parameters of serviceReachProblems. */
export interface ServiceReachParams {
  trace: (packet: ReachPacket) => ReachTrace;
  service: ServicePortInfo;
  endpoints: readonly EndpointInfo[];
  /** The node address node-port packets are sent to. */
  nodeIP: string;
  /** A pod address inside the cluster CIDR that is no endpoint (default 10.244.250.9). */
  podIP?: string;
  /** A client outside the cluster (default 192.168.60.7). */
  outsideIP?: string;
}

const addr = (e: EndpointInfo) => `${e.ip}:${e.port}`;
const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * Where a service's traffic must go, checked through a tracer (kube-proxy's
 * semantics, serving-terminating fallback aside): a pod's packet to the
 * cluster IP reaches exactly the ready endpoints, unmasqueraded, and is
 * rejected when there are none; an outside client's packet to the node port
 * reaches the ready endpoints masqueraded, or with externalTrafficPolicy
 * Local only the local ones with its source kept, and is refused when there
 * are none. Returns what differs ([] when nothing does).
 */
export function serviceReachProblems(p: ServiceReachParams): string[] {
  const { service: svc } = p;
  const problems: string[] = [];
  const ready = p.endpoints.filter((e) => e.ready).map(addr).sort();
  const cluster = p.trace({ src: p.podIP ?? '10.244.250.9', dst: svc.clusterIP, dport: svc.port, protocol: svc.protocol });
  if (!same(cluster.endpoints, ready)) problems.push(`${svc.id} cluster IP reaches [${cluster.endpoints.join(' ')}], want [${ready.join(' ')}]`);
  if (cluster.rejected !== (ready.length === 0)) problems.push(`${svc.id} cluster IP rejected=${cluster.rejected} with ${ready.length} ready endpoint(s)`);
  if (cluster.masqueraded) problems.push(`${svc.id} cluster IP: a pod's traffic is masqueraded`);
  if (svc.nodePort === 0) return problems;
  const want = svc.externalPolicyLocal ? p.endpoints.filter((e) => e.ready && e.isLocal).map(addr).sort() : ready;
  const np = p.trace({ src: p.outsideIP ?? '192.168.60.7', dst: p.nodeIP, dport: svc.nodePort, protocol: svc.protocol, dstLocal: true });
  if (!same(np.endpoints, want)) problems.push(`${svc.id} node port reaches [${np.endpoints.join(' ')}], want [${want.join(' ')}]`);
  if (want.length === 0 && !(np.rejected || np.dropped)) problems.push(`${svc.id} node port without endpoints is not refused`);
  if (want.length > 0 && np.alwaysMasqueraded !== !svc.externalPolicyLocal) problems.push(`${svc.id} node port masqueraded=${np.alwaysMasqueraded}, local policy=${svc.externalPolicyLocal}`);
  return problems;
}
