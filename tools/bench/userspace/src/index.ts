// Public API of @svcnet/bench-userspace: the load generator pieces, for reuse by other benchmarks.
export { runRequests, serveRequests } from './load.js';
export type { RequestStats } from './load.js';
