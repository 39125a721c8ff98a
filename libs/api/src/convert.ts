/**
 * Converters between the wire types (ts-proto) and the domain types of
 * @svcnet/model. Enum "unspecified" values map to Kubernetes' defaults; a value
 * no version of the API defines (proto3 keeps unknown numbers) is refused with
 * INVALID_ARGUMENT naming the field and the supported values, never turned
 * into a default.
 */
import type * as m from '@svcnet/model';
import { invalidField, SvcnetError, ErrorCode } from '@svcnet/model';
import * as t from './gen/svcnet/v1/types.pb.js';

/** One wire enum: number → domain value (UNSPECIFIED → the default). */
function enumFrom<T extends string>(table: Record<number, T>, supported: readonly string[]) {
  return (value: number, field: string): T => {
    const v = table[value];
    if (v === undefined) {
      throw new SvcnetError(
        ErrorCode.InvalidArgument,
        `Unsupported value: ${value}: supported values: ${supported.map((s) => `"${s}"`).join(', ')}`,
        { field },
      );
    }
    return v;
  };
}

const protocolFromWire: Record<number, m.Protocol> = {
  [t.Protocol.PROTOCOL_UNSPECIFIED]: 'TCP',
  [t.Protocol.PROTOCOL_TCP]: 'TCP',
  [t.Protocol.PROTOCOL_UDP]: 'UDP',
  [t.Protocol.PROTOCOL_SCTP]: 'SCTP',
};
const protocolToWire: Record<m.Protocol, t.Protocol> = {
  TCP: t.Protocol.PROTOCOL_TCP,
  UDP: t.Protocol.PROTOCOL_UDP,
  SCTP: t.Protocol.PROTOCOL_SCTP,
};

const checkedProtocol = enumFrom(protocolFromWire, ['SCTP', 'TCP', 'UDP']);
const checkedType = enumFrom<m.ServiceType>(
  {
    [t.ServiceType.SERVICE_TYPE_UNSPECIFIED]: 'ClusterIP',
    [t.ServiceType.SERVICE_TYPE_CLUSTER_IP]: 'ClusterIP',
    [t.ServiceType.SERVICE_TYPE_NODE_PORT]: 'NodePort',
    [t.ServiceType.SERVICE_TYPE_LOAD_BALANCER]: 'LoadBalancer',
  },
  ['ClusterIP', 'LoadBalancer', 'NodePort'],
);
const serviceTypeToWire: Record<m.ServiceType, t.ServiceType> = {
  ClusterIP: t.ServiceType.SERVICE_TYPE_CLUSTER_IP,
  NodePort: t.ServiceType.SERVICE_TYPE_NODE_PORT,
  LoadBalancer: t.ServiceType.SERVICE_TYPE_LOAD_BALANCER,
};
const checkedAffinity = enumFrom<m.SessionAffinity>(
  {
    [t.SessionAffinity.SESSION_AFFINITY_UNSPECIFIED]: 'None',
    [t.SessionAffinity.SESSION_AFFINITY_NONE]: 'None',
    [t.SessionAffinity.SESSION_AFFINITY_CLIENT_IP]: 'ClientIP',
  },
  ['ClientIP', 'None'],
);
const checkedPolicy = enumFrom<m.TrafficPolicy>(
  { [t.TrafficPolicy.TRAFFIC_POLICY_UNSPECIFIED]: 'Cluster', [t.TrafficPolicy.TRAFFIC_POLICY_CLUSTER]: 'Cluster', [t.TrafficPolicy.TRAFFIC_POLICY_LOCAL]: 'Local' },
  ['Cluster', 'Local'],
);
const checkedFamily = enumFrom<m.IpFamily>({ [t.IPFamily.IP_FAMILY_IPV4]: 'IPv4', [t.IPFamily.IP_FAMILY_IPV6]: 'IPv6' }, ['IPv4', 'IPv6']);

/** The domain protocol of a wire value; INVALID_ARGUMENT (naming `field`) for an unknown one. */
export function protocolFromProto(p: t.Protocol, field = 'protocol'): m.Protocol {
  return checkedProtocol(p, field);
}
export function protocolToProto(p: m.Protocol): t.Protocol {
  return protocolToWire[p];
}

export function ipFamilyFromProto(f: t.IPFamily): m.IpFamily | undefined {
  if (f === t.IPFamily.IP_FAMILY_IPV4) return 'IPv4';
  if (f === t.IPFamily.IP_FAMILY_IPV6) return 'IPv6';
  return undefined;
}
export function ipFamilyToProto(f: m.IpFamily | undefined): t.IPFamily {
  if (f === 'IPv4') return t.IPFamily.IP_FAMILY_IPV4;
  if (f === 'IPv6') return t.IPFamily.IP_FAMILY_IPV6;
  return t.IPFamily.IP_FAMILY_UNSPECIFIED;
}

/**
 * A wire resource version (a decimal string: uint64 does not fit a JS number).
 * Store revisions are NATS sequence numbers, far below 2^53; anything that is
 * not one is refused rather than rounded to some other object's revision.
 */
export function resourceVersionFromProto(rv: string | undefined): number {
  if (rv === undefined || rv === '' || rv === '0') return 0;
  const n = /^[0-9]{1,16}$/.test(rv) ? Number(rv) : NaN;
  if (!Number.isSafeInteger(n)) {
    throw invalidField('metadata.resourceVersion', rv, `must be a decimal store revision no larger than ${Number.MAX_SAFE_INTEGER}`);
  }
  return n;
}

function metaFromProto(meta: t.ObjectMeta | undefined): m.ObjectMeta {
  return {
    namespace: meta?.namespace ?? '',
    name: meta?.name ?? '',
    uid: meta?.uid ?? '',
    labels: { ...(meta?.labels ?? {}) },
    annotations: { ...(meta?.annotations ?? {}) },
    resourceVersion: resourceVersionFromProto(meta?.resourceVersion),
    ...(meta?.creationTimestamp ? { creationTimestamp: meta.creationTimestamp } : {}),
    ...(meta?.changeTimestamp ? { changeTimestamp: meta.changeTimestamp } : {}),
  };
}

function metaToProto(meta: m.ObjectMeta): t.ObjectMeta {
  return {
    namespace: meta.namespace,
    name: meta.name,
    uid: meta.uid,
    labels: { ...meta.labels },
    annotations: { ...meta.annotations },
    resourceVersion: String(meta.resourceVersion),
    creationTimestamp: meta.creationTimestamp,
    changeTimestamp: meta.changeTimestamp,
  };
}

function intOrStringFromProto(v: t.IntOrString | undefined): m.IntOrString {
  const value = v?.value;
  if (!value) return 0;
  return value.$case === 'intValue' ? value.value : value.value;
}

function intOrStringToProto(v: m.IntOrString): t.IntOrString | undefined {
  if (v === 0 || v === '') return undefined;
  return typeof v === 'number'
    ? { value: { $case: 'intValue', value: v } }
    : { value: { $case: 'strValue', value: v } };
}

export function serviceFromProto(s: t.Service): m.Service {
  const spec = s.spec;
  return {
    metadata: metaFromProto(s.metadata),
    spec: {
      type: checkedType(spec?.type ?? 0, 'spec.type'),
      clusterIP: spec?.clusterIp ?? '',
      clusterIPs: [...(spec?.clusterIps ?? [])],
      ipFamilies: (spec?.ipFamilies ?? []).map((f, i) => checkedFamily(f, `spec.ipFamilies[${i}]`)),
      ports: (spec?.ports ?? []).map((p, i) => ({
        name: p.name,
        protocol: protocolFromProto(p.protocol, `spec.ports[${i}].protocol`),
        port: p.port,
        targetPort: intOrStringFromProto(p.targetPort),
        nodePort: p.nodePort,
      })),
      selector: { ...(spec?.selector ?? {}) },
      sessionAffinity: checkedAffinity(spec?.sessionAffinity ?? 0, 'spec.sessionAffinity'),
      sessionAffinityTimeoutSeconds: spec?.sessionAffinityConfig?.timeoutSeconds ?? 0,
      externalTrafficPolicy: checkedPolicy(spec?.externalTrafficPolicy ?? 0, 'spec.externalTrafficPolicy'),
      internalTrafficPolicy: checkedPolicy(spec?.internalTrafficPolicy ?? 0, 'spec.internalTrafficPolicy'),
      externalIPs: [...(spec?.externalIps ?? [])],
      // Fields only LoadBalancer services use are left unset at their defaults, so objects
      // that never had them compare equal after a round trip.
      ...((spec?.loadBalancerSourceRanges.length ?? 0) > 0 ? { loadBalancerSourceRanges: [...spec!.loadBalancerSourceRanges] } : {}),
      // proto3 `optional`: unset keeps Kubernetes' default (true).
      ...(spec?.allocateLoadBalancerNodePorts === false ? { allocateLoadBalancerNodePorts: false } : {}),
      ...(spec?.healthCheckNodePort ? { healthCheckNodePort: spec.healthCheckNodePort } : {}),
    },
    ...((s.status?.loadBalancer?.ingress.length ?? 0) > 0
      ? { status: { loadBalancer: { ingress: s.status!.loadBalancer!.ingress.map((i) => (i.hostname ? { ip: i.ip, hostname: i.hostname } : { ip: i.ip })) } } }
      : {}),
  };
}

export function serviceToProto(s: m.Service): t.Service {
  const spec = s.spec;
  return {
    metadata: metaToProto(s.metadata),
    spec: {
      type: serviceTypeToWire[spec.type] ?? t.ServiceType.SERVICE_TYPE_CLUSTER_IP,
      clusterIp: spec.clusterIP,
      clusterIps: [...spec.clusterIPs],
      ipFamilies: spec.ipFamilies.map(ipFamilyToProto),
      ports: spec.ports.map((p) => ({
        name: p.name,
        protocol: protocolToProto(p.protocol),
        port: p.port,
        targetPort: intOrStringToProto(p.targetPort),
        nodePort: p.nodePort,
      })),
      selector: { ...spec.selector },
      sessionAffinity:
        spec.sessionAffinity === 'ClientIP'
          ? t.SessionAffinity.SESSION_AFFINITY_CLIENT_IP
          : t.SessionAffinity.SESSION_AFFINITY_NONE,
      sessionAffinityConfig: spec.sessionAffinityTimeoutSeconds
        ? { timeoutSeconds: spec.sessionAffinityTimeoutSeconds }
        : undefined,
      externalTrafficPolicy:
        spec.externalTrafficPolicy === 'Local'
          ? t.TrafficPolicy.TRAFFIC_POLICY_LOCAL
          : t.TrafficPolicy.TRAFFIC_POLICY_CLUSTER,
      internalTrafficPolicy:
        spec.internalTrafficPolicy === 'Local'
          ? t.TrafficPolicy.TRAFFIC_POLICY_LOCAL
          : t.TrafficPolicy.TRAFFIC_POLICY_CLUSTER,
      externalIps: [...spec.externalIPs],
      loadBalancerSourceRanges: [...(spec.loadBalancerSourceRanges ?? [])],
      // Only a LoadBalancer's explicit false is worth a field on the wire.
      allocateLoadBalancerNodePorts: spec.allocateLoadBalancerNodePorts === false ? false : undefined,
      healthCheckNodePort: spec.healthCheckNodePort ?? 0,
    },
    status:
      (s.status?.loadBalancer.ingress.length ?? 0) > 0
        ? { loadBalancer: { ingress: s.status!.loadBalancer.ingress.map((i) => ({ ip: i.ip, hostname: i.hostname ?? '' })) } }
        : undefined,
  };
}

export function podFromProto(p: t.Pod): m.Pod {
  return {
    metadata: metaFromProto(p.metadata),
    nodeName: p.nodeName,
    ip: p.ip,
    ready: p.ready,
    terminating: p.terminating,
    containerPorts: p.containerPorts.map((c, i) => ({
      name: c.name,
      containerPort: c.containerPort,
      protocol: protocolFromProto(c.protocol, `spec.containers[0].ports[${i}].protocol`),
    })),
  };
}

export function podToProto(p: m.Pod): t.Pod {
  return {
    metadata: metaToProto(p.metadata),
    nodeName: p.nodeName,
    ip: p.ip,
    ready: p.ready,
    terminating: p.terminating,
    containerPorts: p.containerPorts.map((c) => ({
      name: c.name,
      containerPort: c.containerPort,
      protocol: protocolToProto(c.protocol),
    })),
  };
}

export function endpointsFromProto(e: t.Endpoints): m.Endpoints {
  return {
    metadata: metaFromProto(e.metadata),
    subsets: e.subsets.map((s, si) => ({
      addresses: s.addresses.map((a) => ({
        ip: a.ip,
        nodeName: a.nodeName,
        ready: a.ready,
        serving: a.serving,
        terminating: a.terminating,
        ...(a.podRef ? { podRef: { ...a.podRef } } : {}),
      })),
      ports: s.ports.map((p, pi) => ({
        name: p.name,
        port: p.port,
        protocol: protocolFromProto(p.protocol, `subsets[${si}].ports[${pi}].protocol`),
      })),
    })),
  };
}

export function endpointsToProto(e: m.Endpoints): t.Endpoints {
  return {
    metadata: metaToProto(e.metadata),
    subsets: e.subsets.map((s) => ({
      addresses: s.addresses.map((a) => ({
        ip: a.ip,
        nodeName: a.nodeName,
        ready: a.ready,
        serving: a.serving,
        terminating: a.terminating,
        podRef: a.podRef ? { ...a.podRef } : undefined,
      })),
      ports: s.ports.map((p) => ({ name: p.name, port: p.port, protocol: protocolToProto(p.protocol) })),
    })),
  };
}

/** Binary codecs for the objects stored in the state bucket. */
export const serviceCodec = {
  encode: (s: m.Service): Uint8Array => t.Service.encode(serviceToProto(s)).finish(),
  decode: (b: Uint8Array): m.Service => serviceFromProto(t.Service.decode(b)),
};
export const podCodec = {
  encode: (p: m.Pod): Uint8Array => t.Pod.encode(podToProto(p)).finish(),
  decode: (b: Uint8Array): m.Pod => podFromProto(t.Pod.decode(b)),
};
export const endpointsCodec = {
  encode: (e: m.Endpoints): Uint8Array => t.Endpoints.encode(endpointsToProto(e)).finish(),
  decode: (b: Uint8Array): m.Endpoints => endpointsFromProto(t.Endpoints.decode(b)),
};
