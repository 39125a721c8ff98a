// Public API of @svcnet/backend-iptables: named exports only.
export { IptablesBackend, cleanupText } from './iptables-backend.js';
export type { IptablesBackendParams, IptablesVariant } from './iptables-backend.js';
export { renderIptablesPlan, masqueradeMark, sectionText } from './render.js';
export type { RestoreSection, RestoreExtras } from './render.js';
export { describePlan } from './plan.js';
export type { IptablesPlan, IptablesTable, ConntrackDeletion, RejectedService } from './plan.js';
export { Chain, renderServiceFragment, probability } from './service-rules.js';
export type { ServiceFragment, UdpConntrackInfo } from './service-rules.js';
export { portProtoHash, serviceChainNames, endpointChainName, servicePortNameString, invalidReason, quoteComment } from './names.js';
export type { ServiceChainNames } from './names.js';
export { JUMP_RULES, jumpInsertLine } from './jump-rules.js';
export type { JumpRule } from './jump-rules.js';
export { parseSave, hasJump } from './save-parser.js';
export type { SavedTable } from './save-parser.js';
export { tracePacket } from './packet-tracer.js';
export type { TracePacket, TraceOutcome, TraceResult } from './packet-tracer.js';
export { parseRule, inCidr } from './rule-parser.js';
export type { ParsedRule } from './rule-parser.js';
