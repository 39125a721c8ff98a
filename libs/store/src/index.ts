// Public API of @svcnet/store: named exports only.
export { connectStore, credentialsIdentity, DEFAULT_STORE_TIMEOUT_MS, StoreConfigError } from './connection.js';
export type { StoreConnectOptions, StoreConnection, NatsTlsOptions, StoreLogger, CredentialsIdentity } from './connection.js';
export { ObjectStore, openStateBucket, openStateStores, MAX_OBJECT_BYTES } from './object-store.js';
export type { ObjectCodec, StoredObject, ObjectList, ObjectStoreParams, StateStores, BrokenRecord, Deleted } from './object-store.js';
export { KindWatcher } from './kind-watcher.js';
export type { WatchHandlers, KindWatcherParams, UndecodableRecord } from './kind-watcher.js';
export { openFeed, readSnapshot, kvStreamName } from './kv-feed.js';
export type { FeedEntry, OpenFeedParams, Feed } from './kv-feed.js';
export { isCasConflict, storeUnavailable } from './store-errors.js';
export { ALLOCATION_BUCKETS, allocationKey, allocationValue, encodeAllocation, decodeAllocation } from './allocation-keys.js';
export type { AllocationRecord } from './allocation-keys.js';
export { AllocationStore, allocationStoreError } from './allocation-store.js';
export type { OpenAllocationStoreParams, CreateResult } from './allocation-store.js';
