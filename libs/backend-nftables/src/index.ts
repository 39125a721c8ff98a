// Public API of @svcnet/backend-nftables: named exports only.
export { NftablesBackend } from './nftables-backend.js';
export type { NftablesBackendParams } from './nftables-backend.js';
export { renderNftPlan } from './render.js';
export type { NftRenderInput } from './render.js';
export { chainsOf, elementsOf, setsOf, skippedOf } from './plan-views.js';
export type { NftPlan, PlanDelta } from './render.js';
export { renderService } from './service-fragment.js';
export type { NftSet, ServiceFragment, UdpTarget } from './service-fragment.js';
export { replaceScript, staleUdpFlows, updateScript } from './update-script.js';
export { ELEMENT_MAPS, NFT_TABLE } from './layout.js';
export { elementText } from './elements.js';
export type { NftElement } from './elements.js';
export { NftProbeError } from './kernel-probe.js';
export type { ProbeResult } from './kernel-probe.js';
export { traceNftPacket, traceNftRuleset } from './tracer.js';
export type { NftRulesetView, NftTraceOutcome, NftTracePacket, NftTraceResult } from './tracer.js';
