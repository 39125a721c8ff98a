// Public API of @svcnet/backend-userspace: named exports only.
export { UserspaceBackend } from './backend.js';
export type { UserspaceBackendParams } from './backend.js';
export { parseProxyPortRange } from './port-range.js';
export type { PortRange } from './port-range.js';
export { RoundRobinBalancer, endpointKey } from './balancer.js';
export type { Endpoint } from './balancer.js';
export { systemClock } from './clock.js';
export type { Clock } from './clock.js';
export { renderUserspacePlan } from './plan.js';
export type { UserspacePlan, ProxyPlan } from './plan.js';
export {
  PortalChain,
  PORTAL_CHAINS,
  PORTAL_JUMPS,
  renderPortalRuleLines,
  renderPortalRestore,
  renderPortalCleanup,
} from './portal-rules.js';
export type { PortalRulesInput } from './portal-rules.js';
export { TcpProxySocket, DEFAULT_DIAL_TIMEOUTS_MS } from './tcp-proxy.js';
export type { ProxySocketParams } from './tcp-proxy.js';
export { UdpProxySocket, DEFAULT_UDP_IDLE_TIMEOUT_MS } from './udp-proxy.js';
export { ProxyMetrics } from './metrics.js';
export { ProxyPortExhaustedError } from './port-allocator.js';
