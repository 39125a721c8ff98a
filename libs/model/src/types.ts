/**
 * svcnet's domain objects. They mirror Kubernetes' core/v1 Service, Pod and
 * Endpoints (and proto/svcnet/v1/types.proto) but use plain string unions, so
 * domain code never touches generated wire types.
 */

/** Transport protocols a service port may use. */
export const Protocol = { TCP: 'TCP', UDP: 'UDP', SCTP: 'SCTP' } as const;
export type Protocol = (typeof Protocol)[keyof typeof Protocol];

export const ServiceType = { ClusterIP: 'ClusterIP', NodePort: 'NodePort', LoadBalancer: 'LoadBalancer' } as const;
export type ServiceType = (typeof ServiceType)[keyof typeof ServiceType];

export const SessionAffinity = { None: 'None', ClientIP: 'ClientIP' } as const;
export type SessionAffinity = (typeof SessionAffinity)[keyof typeof SessionAffinity];

export const TrafficPolicy = { Cluster: 'Cluster', Local: 'Local' } as const;
export type TrafficPolicy = (typeof TrafficPolicy)[keyof typeof TrafficPolicy];

export const IpFamily = { IPv4: 'IPv4', IPv6: 'IPv6' } as const;
export type IpFamily = (typeof IpFamily)[keyof typeof IpFamily];

/** `clusterIP: None` marks a headless service: no virtual IP, no rules. */
export const CLUSTER_IP_NONE = 'None';

/** Kubernetes' default ClientIP affinity timeout (3 hours). */
export const DEFAULT_AFFINITY_TIMEOUT_SECONDS = 10800;

export interface ObjectMeta {
  namespace: string;
  name: string;
  uid: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Store revision the object was read at; 0 = unknown / not stored yet. */
  resourceVersion: number;
  creationTimestamp?: Date;
  /** Last data-plane-relevant change; agents measure programming latency from it. */
  changeTimestamp?: Date;
}

/** A port number, or the name of a container port. `0` means "unset". */
export type IntOrString = number | string;

export interface ServicePort {
  name: string;
  protocol: Protocol;
  port: number;
  /** 0 (unset) defaults to `port`. */
  targetPort: IntOrString;
  /** 0 = none (ClusterIP, or LoadBalancer without node ports) or "allocate" (NodePort, LoadBalancer, on create). */
  nodePort: number;
}

export interface ServiceSpec {
  type: ServiceType;
  /** '' = allocate, 'None' = headless. */
  clusterIP: string;
  clusterIPs: string[];
  ipFamilies: IpFamily[];
  ports: ServicePort[];
  selector: Record<string, string>;
  sessionAffinity: SessionAffinity;
  /** Only meaningful with ClientIP affinity. */
  sessionAffinityTimeoutSeconds: number;
  externalTrafficPolicy: TrafficPolicy;
  internalTrafficPolicy: TrafficPolicy;
  externalIPs: string[];
  /** LoadBalancer only: sources allowed to reach the load-balancer IPs (CIDRs). Unset/empty = any. */
  loadBalancerSourceRanges?: string[];
  /** LoadBalancer only: false = no node ports. Unset = true (Kubernetes' default). */
  allocateLoadBalancerNodePorts?: boolean;
  /** LoadBalancer + externalTrafficPolicy Local: node port of kube-proxy's health check. 0/unset = none (allocated on create). */
  healthCheckNodePort?: number;
}

/** One address of the load balancer in front of a service. */
export interface LoadBalancerIngress {
  ip: string;
  hostname?: string;
}

export interface ServiceStatus {
  loadBalancer: { ingress: LoadBalancerIngress[] };
}

export interface Service {
  metadata: ObjectMeta;
  spec: ServiceSpec;
  /** Unset = no load-balancer ingress (what every non-LoadBalancer service has). */
  status?: ServiceStatus;
}

/** True for the types that have node ports (NodePort, and LoadBalancer unless it opted out). */
export function hasNodePorts(spec: Pick<ServiceSpec, 'type' | 'allocateLoadBalancerNodePorts'>): boolean {
  return spec.type === 'NodePort' || (spec.type === 'LoadBalancer' && spec.allocateLoadBalancerNodePorts !== false);
}

/** True for the types whose ports may carry node ports at all (NodePort, LoadBalancer). */
export function mayHaveNodePorts(type: ServiceType): boolean {
  return type === 'NodePort' || type === 'LoadBalancer';
}

/** The load-balancer ingress IPs of a service (hostnames left out). */
export function loadBalancerIPs(svc: Service): string[] {
  return (svc.status?.loadBalancer.ingress ?? []).map((i) => i.ip).filter((ip) => ip !== '');
}

export interface ContainerPort {
  name: string;
  containerPort: number;
  protocol: Protocol;
}

export interface Pod {
  metadata: ObjectMeta;
  nodeName: string;
  ip: string;
  ready: boolean;
  containerPorts: ContainerPort[];
  terminating: boolean;
}

export interface ObjectReference {
  kind: string;
  namespace: string;
  name: string;
  uid: string;
}

export interface EndpointAddress {
  ip: string;
  nodeName: string;
  ready: boolean;
  serving: boolean;
  terminating: boolean;
  podRef?: ObjectReference;
}

export interface EndpointPort {
  name: string;
  port: number;
  protocol: Protocol;
}

export interface EndpointSubset {
  addresses: EndpointAddress[];
  ports: EndpointPort[];
}

export interface Endpoints {
  metadata: ObjectMeta;
  subsets: EndpointSubset[];
}

/** The kinds of object kept in the state bucket. */
export const ObjectKind = { Service: 'Service', Pod: 'Pod', Endpoints: 'Endpoints' } as const;
export type ObjectKind = (typeof ObjectKind)[keyof typeof ObjectKind];
