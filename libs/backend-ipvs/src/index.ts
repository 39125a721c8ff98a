// Public API of @svcnet/backend-ipvs: named exports only.
export { IpvsBackend, emptyKernelState } from './ipvs-backend.js';
export type { IpvsBackendParams, Clock } from './ipvs-backend.js';
export { IpvsScheduler, DEFAULT_IPVS_SCHEDULER, validateIpvsScheduler } from './scheduler.js';
export { IPVS_DUMMY_LINK, virtualServerKey, hostPort, ipvsServiceArgs } from './plan.js';
export type { IpvsPlan, VirtualServer, RealServer, IpsetSpec, IptablesRules, IpvsProtocol, IpvsFragment, FragmentPair } from './plan.js';
export { renderIpvsPlan, nodePortAddresses, RenderMemo, IPSET_TYPES, IPSET_NAMES } from './render.js';
export type { RenderIpvsParams } from './render.js';
export { diffIpvs, diffVirtualServer, stateAfterApply, withDraining, realLine } from './diff.js';
export { DesiredIndex, diffDelta } from './delta.js';
export type { DeltaDiff } from './delta.js';
export type { IpvsChanges, RemovedReal } from './diff.js';
export { parseIpvsadmSave, parseIpsetSave, parseLinkAddresses, parseConnectionCounts } from './kernel-state.js';
export type { KernelState } from './kernel-state.js';
export { renderIptablesRules, parseIptablesSave, iptablesRestoreInput, iptablesCleanupInput, JUMP_RULES, MASQ_MARK } from './iptables-rules.js';
