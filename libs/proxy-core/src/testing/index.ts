// Test helpers of @svcnet/proxy-core (`@svcnet/proxy-core/testing`): for tests, benchmarks and
// other test doubles only, never for programs (lint refuses the import there).
export { FakeClock } from '../clock.js';
export { FakeProxyBackend } from '../fake-backend.js';
export type { FakePlan } from '../fake-backend.js';
export { buildService, buildEndpoints, buildServicePort, buildEndpoint, buildProxyState, proxyStateOf, TEST_NODE } from '../builders.js';
export type { BuildServiceOptions, BuildEndpointsOptions } from '../builders.js';
export { ChurnModel, seededRandom } from '../churn.js';
export type { ChurnOptions } from '../churn.js';
