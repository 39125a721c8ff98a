// Public API of @svcnet/api: the generated svcnet.v1 wire types, gRPC service
// definitions and clients, plus the converters to @svcnet/model.
export * as v1 from './gen/svcnet/v1/types.pb.js';
export * as allocatorv1 from './gen/svcnet/v1/allocator.pb.js';
export * as statev1 from './gen/svcnet/v1/state.pb.js';
export { descriptorSetBase64 } from './gen/descriptor-set.js';
export {
  serviceFromProto,
  serviceToProto,
  podFromProto,
  podToProto,
  endpointsFromProto,
  endpointsToProto,
  protocolFromProto,
  protocolToProto,
  ipFamilyFromProto,
  ipFamilyToProto,
  resourceVersionFromProto,
  serviceCodec,
  podCodec,
  endpointsCodec,
} from './convert.js';
export {
  toGrpcError,
  fromGrpcError,
  unaryHandler,
  tolerantService,
  requestRefusal,
  FIELD_METADATA_KEY,
  MAX_REQUEST_BYTES,
} from './grpc-status.js';
export type { CallObserver, CallAuthorizer, EdgeLogger, UnaryHooks } from './grpc-status.js';
export { addHealthAndReflection } from './server-extras.js';
export {
  certificateAuthorizer,
  peerIdentity,
  SvcnetGroup,
  STATE_METHOD_ACCESS,
  ALLOCATOR_METHOD_ACCESS,
} from './authorization.js';
export type { MethodAccess, PeerIdentity } from './authorization.js';
