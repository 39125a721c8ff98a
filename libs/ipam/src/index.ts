// Public API of @svcnet/ipam: named exports only.
export { parseIp, formatIp, familyBits } from './address.js';
export type { IpAddress } from './address.js';
export { parseCidr, parseCidrList, cidrsOverlap, cidrContains, canonicalIPv4Cidr, isCidr, ipInCidr } from './cidr.js';
export type { CidrBlock } from './cidr.js';
export { clusterIpStaticBandSize, nodePortStaticBandSize, pickFreeOffset, cryptoRandomBelow } from './bands.js';
export type { RandomBelow, PickFreeOffsetParams } from './bands.js';
export { RangeKind, ServiceIpRange, NodePortRange, rangeFullError, MIN_IPV6_PREFIX_LENGTH } from './ranges.js';
export type { AllocationRange } from './ranges.js';
