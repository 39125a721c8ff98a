/**
 * The per-node view of services that every proxy mode programs. It mirrors
 * kube-proxy's ServicePort / Endpoint interfaces: one entry per service port,
 * already filtered (headless services and unsupported families dropped).
 */
import type { Protocol } from '@svcnet/model';

/** The proxy modes svcnet-agent supports. */
export const ProxyMode = {
  iptables: 'iptables',
  ipvs: 'ipvs',
  userspace: 'userspace',
  nftables: 'nftables',
} as const;
export type ProxyMode = (typeof ProxyMode)[keyof typeof ProxyMode];

export type SessionAffinityInfo = { kind: 'None' } | { kind: 'ClientIP'; timeoutSeconds: number };

/** One port of one service, as kube-proxy's ServicePortName + ServicePort. */
export interface ServicePortInfo {
  /** `<ns>/<name>:<portName>` (portName may be empty: `<ns>/<name>:`). Map key everywhere. */
  id: string;
  namespace: string;
  name: string;
  portName: string;
  protocol: Protocol;
  clusterIP: string;
  port: number;
  /** 0 when the service has no node port. */
  nodePort: number;
  externalIPs: readonly string[];
  /** Load-balancer ingress IPs (`status.loadBalancer.ingress[].ip`); handled like external IPs. */
  loadBalancerIPs: readonly string[];
  /** `spec.loadBalancerSourceRanges` (CIDRs): only these sources may use the load-balancer IPs. Empty = all. */
  loadBalancerSourceRanges: readonly string[];
  /** `spec.healthCheckNodePort`: the node port the agent answers kube-proxy's health check on; 0 = none. */
  healthCheckNodePort: number;
  sessionAffinity: SessionAffinityInfo;
  /**
   * externalTrafficPolicy: Local on a service with external entry points (node
   * port, external or load-balancer IPs): traffic from outside the cluster uses
   * only this node's endpoints and keeps its source IP.
   */
  externalPolicyLocal: boolean;
  /** internalTrafficPolicy: Local — ClusterIP traffic uses only this node's endpoints. */
  internalPolicyLocal: boolean;
}

/** One backend of one service port. */
export interface EndpointInfo {
  ip: string;
  port: number;
  nodeName: string;
  /** On this node (nodeName equals the agent's node). */
  isLocal: boolean;
  ready: boolean;
  serving: boolean;
  terminating: boolean;
}

/** Desired data-plane state of one node. */
export interface ProxyState {
  services: ReadonlyMap<string, ServicePortInfo>;
  /** Keyed by ServicePortInfo.id; a missing key means no endpoints. */
  endpoints: ReadonlyMap<string, readonly EndpointInfo[]>;
}

/** Node-level settings every backend needs (kube-proxy's flags). */
export interface NodeConfig {
  nodeName: string;
  /** This node's addresses, used for NodePort. */
  nodeIPs: readonly string[];
  /** Pod network; traffic from outside it to a ClusterIP is masqueraded. Empty = unknown. */
  clusterCIDR: string;
  /** Masquerade all service traffic (kube-proxy --masquerade-all). */
  masqueradeAll: boolean;
  /** CIDRs whose local addresses accept NodePorts; empty = every local address. */
  nodePortAddresses: readonly string[];
  /**
   * iptables mode: NodePorts answer on 127.0.0.1 too (kube-proxy's
   * --iptables-localhost-nodeports). Unset = false here; the agent's flag
   * defaults to true, as kube-proxy's does.
   */
  localhostNodePorts?: boolean;
  /**
   * The service CIDRs (nftables mode: traffic to an address inside them that
   * no service has is dropped, to a service's port it does not have rejected).
   * Unset or empty = no such check.
   */
  serviceCIDRs?: readonly string[];
}
