// Public API of @svcnet/proxy-core: named exports only.
export { ProxyMode } from './types.js';
export type { SessionAffinityInfo, ServicePortInfo, EndpointInfo, ProxyState, NodeConfig } from './types.js';
export { BackendApplyError } from './backend.js';
export type { RenderInput, ApplyResult, ProxyBackend, BackendObserver } from './backend.js';
export { SystemClock } from './clock.js';
export type { Clock, TimerHandle } from './clock.js';
export { BoundedFrequencyRunner } from './bounded-frequency-runner.js';
export type { BoundedFrequencyRunnerParams } from './bounded-frequency-runner.js';
export { ServiceChangeTracker, EndpointsChangeTracker } from './change-tracker.js';
export type { Change } from './change-tracker.js';
export { categorizeEndpoints } from './endpoint-categories.js';
export type { EndpointCategories } from './endpoint-categories.js';
export { servicePortId, servicePortsOf, endpointsOf, isHeadless } from './service-port-map.js';
export type { ProxyIpFamily } from './service-port-map.js';
export { ProxyMetrics } from './proxy-metrics.js';
export { Proxier } from './proxier.js';
export type { ProxierParams, ProxierStatus, ProxyLogger, SyncObserver, SyncOutcome, ProgrammedCounts } from './proxier.js';
