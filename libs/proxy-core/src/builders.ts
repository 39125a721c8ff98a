import type { Endpoints, EndpointAddress, Protocol, Service, ServicePort, ServiceSpec } from '@svcnet/model';
import type { EndpointInfo, NodeConfig, ProxyState, ServicePortInfo } from './types.js';
import { endpointsOf, servicePortsOf } from './service-port-map.js';

/** Options of `buildService`: anything not given takes Kubernetes' default. */
export interface BuildServiceOptions extends Partial<Omit<ServiceSpec, 'ports'>> {
  namespace?: string;
  name: string;
  ports?: Partial<ServicePort>[];
  changeTimestamp?: Date;
}

/** A Service for tests and tools (ClusterIP, one TCP port 80 unless told). */
export function buildService(o: BuildServiceOptions): Service {
  const { namespace = 'default', name, ports, changeTimestamp, ...spec } = o;
  return {
    metadata: { namespace, name, uid: `uid-${namespace}-${name}`, labels: {}, annotations: {}, resourceVersion: 0, changeTimestamp },
    spec: {
      type: 'ClusterIP',
      clusterIP: '10.96.0.10',
      clusterIPs: [],
      ipFamilies: ['IPv4'],
      selector: {},
      sessionAffinity: 'None',
      sessionAffinityTimeoutSeconds: 0,
      externalTrafficPolicy: 'Cluster',
      internalTrafficPolicy: 'Cluster',
      externalIPs: [],
      ...spec,
      ports: (ports ?? [{}]).map((p) => ({ name: '', protocol: 'TCP' as Protocol, port: 80, targetPort: 0, nodePort: 0, ...p })),
    },
  };
}

/** Options of `buildEndpoints`: one subset with these addresses and ports. */
export interface BuildEndpointsOptions {
  namespace?: string;
  name: string;
  /** `ip` or `ip@node`; ready unless `notReady` or `terminating` lists it. */
  addresses: string[];
  /** Not serving (the pod's Ready condition is false). */
  notReady?: string[];
  /** Terminating (deletionTimestamp set): serving unless `notReady` lists it too, never ready. */
  terminating?: string[];
  ports?: { name?: string; port: number; protocol?: Protocol }[];
  changeTimestamp?: Date;
}

/** An Endpoints object for tests and tools. */
export function buildEndpoints(o: BuildEndpointsOptions): Endpoints {
  const { namespace = 'default', name } = o;
  const addresses: EndpointAddress[] = o.addresses.map((a) => {
    const [ip = '', nodeName = ''] = a.split('@');
    const serving = !(o.notReady ?? []).includes(ip);
    const terminating = (o.terminating ?? []).includes(ip);
    return { ip, nodeName, ready: serving && !terminating, serving, terminating };
  });
  return {
    metadata: {
      namespace,
      name,
      uid: `uid-ep-${namespace}-${name}`,
      labels: {},
      annotations: {},
      resourceVersion: 0,
      changeTimestamp: o.changeTimestamp,
    },
    subsets: [
      {
        addresses,
        ports: (o.ports ?? [{ port: 8080 }]).map((p) => ({ name: p.name ?? '', port: p.port, protocol: p.protocol ?? 'TCP' })),
      },
    ],
  };
}

/** A ServicePortInfo for tests and tools: `default/<name>:` TCP, no node port, no affinity, unless told. */
export function buildServicePort(p: Partial<ServicePortInfo> & { name: string; clusterIP: string; port: number }): ServicePortInfo {
  const namespace = p.namespace ?? 'default';
  return {
    id: `${namespace}/${p.name}:${p.portName ?? ''}`,
    namespace,
    portName: '',
    protocol: 'TCP',
    nodePort: 0,
    externalIPs: [],
    loadBalancerIPs: [],
    loadBalancerSourceRanges: [],
    healthCheckNodePort: 0,
    sessionAffinity: { kind: 'None' },
    externalPolicyLocal: false,
    internalPolicyLocal: false,
    ...p,
  };
}

/** A ready, serving EndpointInfo on node `n1` (not local) unless told. */
export function buildEndpoint(ip: string, port: number, extra: Partial<EndpointInfo> = {}): EndpointInfo {
  return { ip, port, nodeName: 'n1', isLocal: false, ready: true, serving: true, terminating: false, ...extra };
}

/** A ProxyState from (service port, endpoints) pairs. */
export function buildProxyState(entries: ReadonlyArray<readonly [ServicePortInfo, readonly EndpointInfo[]]>): ProxyState {
  return { services: new Map(entries.map(([s]) => [s.id, s])), endpoints: new Map(entries.map(([s, e]) => [s.id, e])) };
}

/**
 * A node for backend tests: one IPv4 node IP, the pod network 10.244.0.0/16,
 * node ports on every address, localhost node ports on (kube-proxy's defaults).
 */
export const TEST_NODE: NodeConfig = {
  nodeName: 'n1',
  nodeIPs: ['192.168.50.1'],
  clusterCIDR: '10.244.0.0/16',
  masqueradeAll: false,
  nodePortAddresses: [],
  localhostNodePorts: true,
};

/** A node's ProxyState from Services and Endpoints objects, as the change trackers build it. */
export function proxyStateOf(services: readonly Service[], endpoints: readonly Endpoints[], nodeName = TEST_NODE.nodeName): ProxyState {
  const svc = new Map<string, ServicePortInfo>();
  const eps = new Map<string, readonly EndpointInfo[]>();
  for (const s of services) for (const [k, v] of servicePortsOf(s)) svc.set(k, v);
  for (const e of endpoints) for (const [k, v] of endpointsOf(e, nodeName)) eps.set(k, v);
  return { services: svc, endpoints: eps };
}
