// Public API of @svcnet/bench-feed: named exports only.
export { percentile, summarize } from './stats.js';
