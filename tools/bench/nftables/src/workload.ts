import { buildEndpoints, buildService } from '@svcnet/proxy-core/testing';
import type { Endpoints, Service } from '@svcnet/model';
import type { EndpointInfo, NodeConfig, ProxyState, ServicePortInfo } from '@svcnet/proxy-core';

/** The benchmark's node: one of 4 (a quarter of the endpoints are local). */
export const CONFIG: NodeConfig = { nodeName: 'node-0', nodeIPs: ['192.168.77.1'], clusterCIDR: '10.64.0.0/10', masqueradeAll: false, nodePortAddresses: [] };

const clusterIP = (k: number) => `10.96.${(k >> 8) & 255}.${k & 255}`;
/** Endpoint `e` of service `k` (room for one more per service, for replacements). */
const endpointIP = (k: number, e: number, perService: number) => {
  const n = k * (perService + 1) + e;
  return `10.${100 + ((n >> 16) & 63)}.${(n >> 8) & 255}.${n & 255}`;
};

/** Service `k` as the proxier holds it: port 80, every 10th also a NodePort. */
export function servicePort(k: number): ServicePortInfo {
  const id = `bench/svc-${k}:http`;
  return {
    id,
    namespace: 'bench',
    name: `svc-${k}`,
    portName: 'http',
    protocol: 'TCP',
    clusterIP: clusterIP(k),
    port: 80,
    nodePort: k % 10 === 0 ? 30000 + k / 10 : 0,
    externalIPs: [],
    loadBalancerIPs: [],
    loadBalancerSourceRanges: [],
    healthCheckNodePort: 0,
    sessionAffinity: { kind: 'None' },
    externalPolicyLocal: false,
    internalPolicyLocal: false,
  };
}

/** Service `k`'s endpoints over 4 nodes; `replaced` swaps endpoint 0 for the spare address. */
export function endpointsOf(k: number, perService: number, replaced = false): EndpointInfo[] {
  const eps: EndpointInfo[] = [];
  for (let e = replaced ? 1 : 0; e < perService + (replaced ? 1 : 0); e++) {
    const node = `node-${(k * (perService + 1) + e) % 4}`;
    eps.push({ ip: endpointIP(k, e, perService), port: 8080, nodeName: node, isLocal: node === CONFIG.nodeName, ready: true, serving: true, terminating: false });
  }
  return eps;
}

/** `count` services × `perService` endpoints, as mutable maps (a benchmark adds to them). */
export function proxyState(count: number, perService: number): { services: Map<string, ServicePortInfo>; endpoints: Map<string, EndpointInfo[]> } & ProxyState {
  const services = new Map<string, ServicePortInfo>();
  const endpoints = new Map<string, EndpointInfo[]>();
  for (let k = 0; k < count; k++) {
    const sp = servicePort(k);
    services.set(sp.id, sp);
    endpoints.set(sp.id, endpointsOf(k, perService));
  }
  return { services, endpoints };
}

/** The same services as API objects, for a Proxier (services k in [from, from + count)). */
export function modelObjects(from: number, count: number, perService: number): { services: Service[]; endpoints: Endpoints[] } {
  const services: Service[] = [];
  const endpoints: Endpoints[] = [];
  for (let k = from; k < from + count; k++) {
    const sp = servicePort(k);
    services.push(buildService({ namespace: 'bench', name: sp.name, clusterIP: sp.clusterIP, type: sp.nodePort ? 'NodePort' : 'ClusterIP', ports: [{ name: 'http', port: 80, nodePort: sp.nodePort }] }));
    endpoints.push(
      buildEndpoints({
        namespace: 'bench',
        name: sp.name,
        addresses: endpointsOf(k, perService).map((e) => `${e.ip}@${e.nodeName}`),
        ports: [{ name: 'http', port: 8080 }],
      }),
    );
  }
  return { services, endpoints };
}
