// Shared by this lib's unit tests: desired state from model objects.
import { endpointsOf, servicePortsOf } from '@svcnet/proxy-core';
import type { EndpointInfo, NodeConfig, ProxyState, ServicePortInfo } from '@svcnet/proxy-core';
import type { Endpoints, Service } from '@svcnet/model';

export const NODE: NodeConfig = {
  nodeName: 'n1',
  nodeIPs: ['192.168.50.1'],
  clusterCIDR: '10.244.0.0/16',
  masqueradeAll: false,
  nodePortAddresses: [],
  localhostNodePorts: true,
};

/** ProxyState of a node from Services and Endpoints (as the change trackers would build it). */
export function stateOf(services: Service[], endpoints: Endpoints[], nodeName = NODE.nodeName): ProxyState {
  const svc = new Map<string, ServicePortInfo>();
  const eps = new Map<string, readonly EndpointInfo[]>();
  for (const s of services) for (const [k, v] of servicePortsOf(s)) svc.set(k, v);
  for (const e of endpoints) for (const [k, v] of endpointsOf(e, nodeName)) eps.set(k, v);
  return { services: svc, endpoints: eps };
}

/** Sorted, non-empty lines: golden comparisons ignore order. */
export function sortedLines(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => l !== '')
    .sort();
}
