// Public API of @svcnet/client: promise-based clients of svcnet.v1.State and
// svcnet.v1.Allocator for programs outside svcnet (and svcnet's own tools).
export { StateClient, LIST_CHUNK_SIZE } from './state-client.js';
export type {
  StateApi,
  StateClientOptions,
  Kind,
  KindObjects,
  ListQuery,
  ListResult,
  BrokenObject,
  WatchUpdate,
  WatchHandle,
  ClientLogger,
} from './state-client.js';
export { AllocatorClient } from './allocator-client.js';
export type { AllocatorClientOptions, AllocationRecord } from './allocator-client.js';
export { channelCredentials, ClientConfigError } from './credentials.js';
export type { ClientTlsOptions } from './credentials.js';
export { ServerUnreachableError, classifyTransportError } from './errors.js';
export { clientConfigYaml } from './config-file.js';
export type { ClientConfigParams, ConfigUser } from './config-file.js';
