// Public API of @svcnet/backend-nftables: named exports only.
export { NftablesBackend, countsOf, replaceScript, staleUdpFlows, updateScript } from './nftables-backend.js';
export type { NftablesBackendParams } from './nftables-backend.js';
export { NFT_MAPS, NFT_TABLE, renderNftPlan, renderService, setBody } from './render.js';
export type { NftPlan, NftSet, ServiceFragment, UdpTarget } from './render.js';
