// Public API of @svcnet/testing: named exports only.
export { startNatsServer, startNatsCluster, freePort, waitForPort } from './nats-server.js';
export type { NatsServerHandle, NatsClusterHandle, StartNatsOptions } from './nats-server.js';
export {
  NetnsLab,
  NetnsNameError,
  listNetns,
  netnsPids,
  killPids,
  deleteNetns,
  deleteNetnsByPrefix,
  e2eName,
} from './netns.js';
export type { NetnsLabOptions, VethParams } from './netns.js';
export { startIpvsVm, buildIpvsVm, VmNetExec, VmChannel, IPVS_VM_CACHE } from './ipvs-vm.js';
export type { IpvsVmHandle, StartIpvsVmOptions } from './ipvs-vm.js';
export { BridgeLab } from './bridge-lab.js';
export type { BridgeLabPod, BridgeLabOptions } from './bridge-lab.js';
export { percentile, summarize, median } from './stats.js';
export type { Summary } from './stats.js';
