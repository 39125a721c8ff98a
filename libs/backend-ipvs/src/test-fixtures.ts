/** Builders for unit tests (not exported from the package). */
import type { NodeConfig } from '@svcnet/proxy-core';

export const config: NodeConfig = { nodeName: 'n1', nodeIPs: ['192.168.1.10'], clusterCIDR: '10.244.0.0/16', masqueradeAll: false, nodePortAddresses: [] };

/** Service ports, endpoints and states for these tests: proxy-core's builders. */
export { buildServicePort as svc, buildEndpoint as ep, buildProxyState as stateOf } from '@svcnet/proxy-core/testing';
