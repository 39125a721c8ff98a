// Public API of @svcnet/proxy-core: named exports only.
export { ProxyMode } from './types.js';
export type { SessionAffinityInfo, ServicePortInfo, EndpointInfo, ProxyState, NodeConfig } from './types.js';
export { BackendApplyError } from './backend.js';
export type { RenderInput, ApplyResult, ProxyBackend } from './backend.js';
