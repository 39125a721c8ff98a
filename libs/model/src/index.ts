// Public API of @svcnet/model: named exports only.
export {
  Protocol,
  ServiceType,
  SessionAffinity,
  TrafficPolicy,
  IpFamily,
  ObjectKind,
  CLUSTER_IP_NONE,
  DEFAULT_AFFINITY_TIMEOUT_SECONDS,
  hasNodePorts,
  mayHaveNodePorts,
  loadBalancerIPs,
} from './types.js';
export type {
  ObjectMeta,
  IntOrString,
  ServicePort,
  ServiceSpec,
  Service,
  ServiceStatus,
  LoadBalancerIngress,
  ContainerPort,
  Pod,
  ObjectReference,
  EndpointAddress,
  EndpointPort,
  EndpointSubset,
  Endpoints,
} from './types.js';
export { STATE_BUCKET, ALLOCATION_BUCKETS, objectKey, kindKeyFilter, parseObjectKey, namespacedName } from './keys.js';
export type { ObjectKey } from './keys.js';
export { ErrorCode, SvcnetError, invalidField } from './errors.js';
export type { SvcnetErrorOptions } from './errors.js';
export {
  validateService,
  validateServiceUpdate,
  validatePod,
  validateEndpoints,
  validateObjectKey,
  validateNamespaceFilter,
  invalidObjectError,
} from './validation.js';
export type { PodValidationOptions } from './validation.js';
export { echoValue, ipInCidrs, isValidIp, isValidPortNumber, parseBindAddress, specialIpErrors } from './validation-rules.js';
export type { FieldError, BindAddress } from './validation-rules.js';
export { parseDuration, formatDuration } from './duration.js';
export type { DurationOptions } from './duration.js';
export {
  selectorMatches,
  labelsMatch,
  parseLabelSelector,
  resolveTargetPort,
  computeEndpointSubsets,
  endpointSubsetsEqual,
  endpointsForService,
} from './endpoints.js';
export {
  NODES_BUCKET,
  FEED_BUCKET,
  MISSED_HEARTBEATS_NOT_READY,
  NodeCondition,
  validateNodeName,
  nodeCondition,
} from './node-status.js';
export type { NodeStatus, NodeSyncError, NodeRuleCounts, NodeLastSync } from './node-status.js';
