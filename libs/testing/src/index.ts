// Public API of @svcnet/testing: named exports only.
export { startNatsServer, startNatsCluster, freePort, waitForPort } from './nats-server.js';
export type { NatsServerHandle, NatsClusterHandle, StartNatsOptions } from './nats-server.js';
// Namespace labs live in @svcnet/netexec (svcnet-cluster ships with them); tests keep importing them from here.
export {
  NetnsLab,
  NetnsNameError,
  listNetns,
  netnsPids,
  killPids,
  deleteNetns,
  deleteNetnsByPrefix,
  e2eName,
} from '@svcnet/netexec';
export type { NetnsLabOptions, VethParams } from '@svcnet/netexec';
export { startIpvsVm, buildIpvsVm, VmNetExec, VmChannel, IPVS_VM_CACHE } from './ipvs-vm.js';
export type { IpvsVmHandle, StartIpvsVmOptions } from './ipvs-vm.js';
export { BridgeLab } from './bridge-lab.js';
export type { BridgeLabPod, BridgeLabOptions } from './bridge-lab.js';
export { percentile, summarize, median } from './stats.js';
export type { Summary } from './stats.js';
export { grpcError } from './grpc.js';
export { serviceReachProblems } from './service-reach.js';
export type { ReachPacket, ReachTrace, ServiceReachParams } from './service-reach.js';
export { runChurnSyncs } from './churn-syncs.js';
export type { ChurnSyncCase, ChurnSyncParams } from './churn-syncs.js';
