// Shared by this lib's unit tests: proxy-core's test node and desired state from model objects.
export { TEST_NODE as NODE, proxyStateOf as stateOf } from '@svcnet/proxy-core/testing';
