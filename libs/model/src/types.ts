/**
 * svcnet's domain objects. They mirror Kubernetes' core/v1 Service, Pod and
 * Endpoints (and proto/svcnet/v1/types.proto) but use plain string unions, so
 * domain code never touches generated wire types.
 */

/** Transport protocols a service port may use. */
export const Protocol = { TCP: 'TCP', UDP: 'UDP', SCTP: 'SCTP' } as const;
export type Protocol = (typeof Protocol)[keyof typeof Protocol];

export const ServiceType = { ClusterIP: 'ClusterIP', NodePort: 'NodePort' } as const;
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
  /** 0 = none (ClusterIP) or "allocate" (NodePort, on create). */
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
}

export interface Service {
  metadata: ObjectMeta;
  spec: ServiceSpec;
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
