/** Builders for unit tests (not exported from the package). */
import type { EndpointInfo, NodeConfig, ProxyState, ServicePortInfo } from '@svcnet/proxy-core';

export const config: NodeConfig = { nodeName: 'n1', nodeIPs: ['192.168.1.10'], clusterCIDR: '10.244.0.0/16', masqueradeAll: false, nodePortAddresses: [] };

export function svc(p: Partial<ServicePortInfo> & { name: string; clusterIP: string; port: number }): ServicePortInfo {
  return {
    id: `default/${p.name}:`,
    namespace: 'default',
    portName: '',
    protocol: 'TCP',
    nodePort: 0,
    externalIPs: [],
    sessionAffinity: { kind: 'None' },
    externalPolicyLocal: false,
    internalPolicyLocal: false,
    ...p,
  };
}

export function ep(ip: string, port: number, extra: Partial<EndpointInfo> = {}): EndpointInfo {
  return { ip, port, nodeName: 'n1', isLocal: false, ready: true, serving: true, terminating: false, ...extra };
}

export function stateOf(entries: Array<[ServicePortInfo, EndpointInfo[]]>): ProxyState {
  return { services: new Map(entries.map(([s]) => [s.id, s])), endpoints: new Map(entries.map(([s, e]) => [s.id, e])) };
}
