// Public API of @svcnet/bench-e2e-latency: named exports only.
export { percentile, summarize } from './stats.js';
export type { Summary } from './stats.js';
