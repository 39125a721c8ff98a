// Test doubles of @svcnet/backend-nftables (`@svcnet/backend-nftables/testing`): for tests only, never for programs.
export { FakeNftExec } from './fake-nft-exec.js';
export type { FakeNftExecParams } from './fake-nft-exec.js';
export { NftRuleset, NftTransactionError, splitElement } from './nft-ruleset.js';
export { parseNftScript, NftSyntaxError } from './nft-script.js';
export type { NftCommand } from './nft-script.js';
