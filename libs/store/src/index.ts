// Public API of @svcnet/store: named exports only.
export { connectStore } from './connection.js';
export type { StoreConnectOptions, StoreConnection } from './connection.js';
