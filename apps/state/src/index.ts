// Public API of @svcnet/state: named exports only.
export { runState } from './server.js';
export type { StateConfig, RunningState } from './server.js';
export { ServiceManager } from './service-manager.js';
export { PodManager, EndpointsManager, MANAGED_BY_ANNOTATION, ENDPOINTS_CONTROLLER } from './object-managers.js';
export { EndpointsController } from './endpoints-controller.js';
export { RepairLoop, LEAK_SIGHTINGS_BEFORE_RELEASE } from './repair-loop.js';
export type { RepairReport } from './repair-loop.js';
export type { Allocations, AllocationRecord } from './allocations.js';
