// Public API of @svcnet/service-runtime: named exports only.
export { listenHttp, closeHttp, boundPort, sendText } from './http.js';
export type { HttpBind, AsyncHandler } from './http.js';
export { createServiceLogger, levelForVerbosity } from './logger.js';
export type { ServiceLoggerParams } from './logger.js';
export { stopOnSignals } from './shutdown.js';
export type { SignalDeps, StopOnSignalsOptions } from './shutdown.js';
export { GrpcServerMetrics, grpcCodeLabel } from './grpc-metrics.js';
export { listenMetrics } from './metrics-endpoint.js';
export { addNatsFlags, natsConnectSettings, DEFAULT_NATS_URL } from './nats-flags.js';
export type { NatsFlagValues, NatsConnectSettings } from './nats-flags.js';
export {
  TlsConfigError,
  grpcServerCredentials,
  readCertificate,
  readKeyPair,
  addServingTlsFlags,
  servingSecurity,
  serverCredentialsFor,
  quietIpServernameWarning,
} from './tls.js';
export type { ServerTlsFiles, ClientTlsFiles, ServingSecurity, ServingTlsFlagValues } from './tls.js';
export { buildInfo, versionLine, registerBuildInfo } from './build-info.js';
export type { BuildInfo } from './build-info.js';
export { ConfigFileError, configFileArg, configFileArgv, configFileText, writeConfigFile, parseWithConfigFile } from './config-file.js';
