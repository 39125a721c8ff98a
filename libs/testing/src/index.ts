// Public API of @svcnet/testing: named exports only.
export { startNatsServer, freePort, waitForPort } from './nats-server.js';
export type { NatsServerHandle, StartNatsOptions } from './nats-server.js';
