import { ErrorCode, IpFamily, SvcnetError, invalidField } from '@svcnet/model';
import { formatIp, parseIp } from './address.js';
import { clusterIpStaticBandSize, nodePortStaticBandSize } from './bands.js';
import { parseCidr, type CidrBlock } from './cidr.js';

/** The kinds of things the allocator hands out. */
export const RangeKind = { ClusterIp: 'ClusterIP', NodePort: 'NodePort', LoadBalancerIp: 'LoadBalancerIP' } as const;
export type RangeKind = (typeof RangeKind)[keyof typeof RangeKind];

/**
 * A set of allocatable values indexed by offset 0..size-1, with a static band
 * at the bottom. Values are canonical strings (an IP or a decimal port).
 */
export interface AllocationRange {
  readonly kind: RangeKind;
  /** Set for ClusterIP ranges. */
  readonly family: IpFamily | undefined;
  /** `10.96.0.0/12` or `30000-32767`. */
  readonly text: string;
  readonly size: bigint;
  readonly staticBandSize: bigint;
  valueAt(offset: bigint): string;
  /** The offset of a value given in canonical or any valid syntax; undefined when outside. Throws on bad syntax. */
  offsetOf(value: string, field: string): bigint | undefined;
  /** The Kubernetes-worded error for a value outside the range. */
  notInRange(value: string, field: string): SvcnetError;
}

/** Largest IPv6 service range: a /64 (a bigger one is refused; there is no bitmap limit below that). */
export const MIN_IPV6_PREFIX_LENGTH = 64;

/**
 * A ClusterIP range. IPv4 never hands out the network and broadcast addresses;
 * IPv6 never hands out the subnet-router anycast (first) address, like
 * Kubernetes' allocator.
 */
export class ServiceIpRange implements AllocationRange {
  /** ClusterIP, or LoadBalancerIP for the allocator's load-balancer pool (same address rules). */
  readonly kind: typeof RangeKind.ClusterIp | typeof RangeKind.LoadBalancerIp;
  readonly family: IpFamily;
  readonly text: string;
  readonly size: bigint;
  readonly staticBandSize: bigint;
  readonly block: CidrBlock;
  private readonly first: bigint;

  constructor(block: CidrBlock, field = 'service-cluster-ip-range', kind: ServiceIpRange['kind'] = RangeKind.ClusterIp) {
    if (block.family === IpFamily.IPv6 && block.prefixLength < MIN_IPV6_PREFIX_LENGTH) {
      throw invalidField(field, block.cidr, `an IPv6 service range must be /${MIN_IPV6_PREFIX_LENGTH} or longer`);
    }
    this.kind = kind;
    const excluded = block.family === IpFamily.IPv4 ? 2n : 1n;
    const size = block.totalSize - excluded;
    if (size < 1n) throw invalidField(field, block.cidr, 'the range is too small: it has no usable addresses');
    this.block = block;
    this.family = block.family;
    this.text = block.cidr;
    this.first = block.base + 1n;
    this.size = size;
    const band = clusterIpStaticBandSize(block.totalSize);
    this.staticBandSize = band < size ? band : size;
  }

  /** Parses a CIDR flag value into a range. */
  static parse(text: string, field = 'service-cluster-ip-range', kind: ServiceIpRange['kind'] = RangeKind.ClusterIp): ServiceIpRange {
    return new ServiceIpRange(parseCidr(text, field), field, kind);
  }

  valueAt(offset: bigint): string {
    return formatIp({ family: this.family, value: this.first + offset });
  }

  offsetOf(value: string, field: string): bigint | undefined {
    const address = parseIp(value, field);
    if (address.family !== this.family) return undefined;
    const offset = address.value - this.first;
    return offset >= 0n && offset < this.size ? offset : undefined;
  }

  notInRange(value: string, field: string): SvcnetError {
    return invalidField(field, value, `the provided IP (${value}) is not in the valid range. The range of valid IPs is ${this.text}`);
  }
}

/** A NodePort range `first-last` (inclusive). */
export class NodePortRange implements AllocationRange {
  readonly kind = RangeKind.NodePort;
  readonly family = undefined;
  readonly text: string;
  readonly size: bigint;
  readonly staticBandSize: bigint;
  readonly firstPort: number;
  readonly lastPort: number;

  constructor(firstPort: number, lastPort: number) {
    this.firstPort = firstPort;
    this.lastPort = lastPort;
    this.text = `${firstPort}-${lastPort}`;
    this.size = BigInt(lastPort - firstPort + 1);
    this.staticBandSize = nodePortStaticBandSize(this.size);
  }

  /** Parses `30000-32767` or a single port `30000`. */
  static parse(text: string, field = 'service-node-port-range'): NodePortRange {
    const match = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(text.trim());
    const first = match ? Number(match[1]) : NaN;
    const last = match?.[2] !== undefined ? Number(match[2]) : first;
    if (!match || first < 1 || last > 65535 || first > last) {
      throw invalidField(field, text, "must be a port range 'first-last' with 1 <= first <= last <= 65535 (e.g. 30000-32767)");
    }
    return new NodePortRange(first, last);
  }

  valueAt(offset: bigint): string {
    return String(this.firstPort + Number(offset));
  }

  offsetOf(value: string, field: string): bigint | undefined {
    if (!/^\d{1,5}$/.test(value) || Number(value) < 1 || Number(value) > 65535) {
      throw invalidField(field, value, 'must be a port number between 1 and 65535');
    }
    const port = Number(value);
    return port >= this.firstPort && port <= this.lastPort ? BigInt(port - this.firstPort) : undefined;
  }

  notInRange(value: string, field: string): SvcnetError {
    return invalidField(field, value, `provided port is not in the valid range. The range of valid ports is ${this.text}`);
  }
}

/** The range-is-full error, in Kubernetes' words. */
export function rangeFullError(range: AllocationRange): SvcnetError {
  return new SvcnetError(ErrorCode.ResourceExhausted, `range is full: no free ${range.kind === RangeKind.NodePort ? 'port' : 'IP'} in ${range.text}`);
}
