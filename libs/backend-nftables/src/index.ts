// Public API of @svcnet/backend-nftables: named exports only.
export { NftablesBackend, countsOf, replaceScript, staleUdpFlows, updateScript } from './nftables-backend.js';
export type { NftablesBackendParams } from './nftables-backend.js';
export { NFT_TABLE, renderNftPlan } from './render.js';
export type { NftPlan, UdpTarget } from './render.js';
