import { ErrorCode, IpFamily, SvcnetError, invalidField } from '@svcnet/model';
import { allocatorv1, ipFamilyFromProto, ipFamilyToProto, v1 } from '@svcnet/api';
import { formatIp, parseIp } from '@svcnet/ipam';
import type { AllocationRecord, AllocationStore } from '@svcnet/store';
import { validateOwner } from './owner.js';
import type { AllocationScope } from './metrics.js';
import type { RangeAllocator } from './range-allocator.js';

/** Told of every allocation that got past request validation (for metrics). */
export type AllocationObserver = (kind: 'ClusterIP' | 'NodePort' | 'LoadBalancerIP', range: string, scope: AllocationScope, ok: boolean) => void;

/** The allocators once the store is open. */
export interface ReadyAllocators {
  ipStore: AllocationStore;
  portStore: AllocationStore;
  /** One per family; the first is the primary. */
  clusterIps: RangeAllocator[];
  nodePorts: RangeAllocator;
  /** The load-balancer pool (--load-balancer-ip-range), in the IP bucket; absent when not configured. */
  loadBalancerIps?: RangeAllocator;
}

/** Every range of a ready allocator, in GetStatus order. */
export function ranges(ready: ReadyAllocators): RangeAllocator[] {
  return [...ready.clusterIps, ready.nodePorts, ...(ready.loadBalancerIps ? [ready.loadBalancerIps] : [])];
}

const KIND_TO_WIRE: Record<string, allocatorv1.RangeKind> = {
  ClusterIP: allocatorv1.RangeKind.RANGE_KIND_CLUSTER_IP,
  NodePort: allocatorv1.RangeKind.RANGE_KIND_NODE_PORT,
  LoadBalancerIP: allocatorv1.RangeKind.RANGE_KIND_LOAD_BALANCER_IP,
};


/**
 * svcnet.v1.Allocator, transport-free: requests in, responses out, every
 * failure a SvcnetError (the gRPC edge maps it once).
 */
export class AllocatorService {
  private ready: ReadyAllocators | undefined;

  constructor(private readonly observe: AllocationObserver = () => undefined) {}

  /** Starts serving once the store is open. */
  attach(ready: ReadyAllocators): void {
    this.ready = ready;
  }

  /** True once the store has been opened (connected or not). */
  get attached(): boolean {
    return !!this.ready;
  }

  /** True when the store is open and connected. */
  get serving(): boolean {
    return !!this.ready && this.ready.ipStore.available && this.ready.portStore.available;
  }

  async allocateClusterIp(req: allocatorv1.AllocateClusterIPRequest): Promise<allocatorv1.AllocateClusterIPResponse> {
    validateOwner(req.owner);
    const ready = this.requireReady();
    const family = this.requestedFamily(req.ipFamily, ready);
    let allocator: RangeAllocator | undefined;
    let requested: string | undefined;
    if (req.requestedIp !== '') {
      const address = parseIp(req.requestedIp, 'requested_ip');
      if (family && address.family !== family) {
        throw invalidField('requested_ip', req.requestedIp, `is not an ${family} address but ip_family is ${family}`);
      }
      allocator = ready.clusterIps.find((a) => a.range.family === address.family);
      if (!allocator) {
        const valid = ready.clusterIps.map((a) => a.range.text).join(',');
        throw invalidField(
          'requested_ip',
          req.requestedIp,
          `the provided IP (${req.requestedIp}) is not in the valid range. The range of valid IPs is ${valid}`,
        );
      }
      requested = formatIp(address);
    } else {
      allocator = family ? ready.clusterIps.find((a) => a.range.family === family) : ready.clusterIps[0];
    }
    const record = await this.observed(allocator!, requested, () => allocator!.allocate({ owner: req.owner, requested, field: 'requested_ip' }));
    return { ip: record.value, ipFamily: ipFamilyToProto(allocator!.range.family) };
  }

  async releaseClusterIp(req: allocatorv1.ReleaseClusterIPRequest): Promise<allocatorv1.ReleaseClusterIPResponse> {
    validateOwner(req.owner);
    const ip = formatIp(parseIp(req.ip, 'ip'));
    const ready = this.requireReady();
    return { released: await ready.ipStore.release(ip, req.owner, 'ip') };
  }

  async allocateNodePort(req: allocatorv1.AllocateNodePortRequest): Promise<allocatorv1.AllocateNodePortResponse> {
    validateOwner(req.owner);
    const ready = this.requireReady();
    const requested = req.requestedPort === 0 ? undefined : String(req.requestedPort);
    const record = await this.observed(ready.nodePorts, requested, () =>
      ready.nodePorts.allocate({ owner: req.owner, requested, field: 'requested_port' }),
    );
    return { port: Number(record.value) };
  }

  async releaseNodePort(req: allocatorv1.ReleaseNodePortRequest): Promise<allocatorv1.ReleaseNodePortResponse> {
    validateOwner(req.owner);
    if (!Number.isInteger(req.port) || req.port < 1 || req.port > 65535) {
      throw invalidField('port', req.port, 'must be between 1 and 65535, inclusive');
    }
    const ready = this.requireReady();
    return { released: await ready.portStore.release(String(req.port), req.owner, 'port') };
  }

  async allocateLoadBalancerIp(req: allocatorv1.AllocateLoadBalancerIPRequest): Promise<allocatorv1.AllocateLoadBalancerIPResponse> {
    validateOwner(req.owner);
    const pool = this.requirePool();
    let requested: string | undefined;
    if (req.requestedIp !== '') {
      const address = parseIp(req.requestedIp, 'requested_ip');
      requested = formatIp(address);
      if (!pool.contains(requested, 'requested_ip')) throw pool.range.notInRange(requested, 'requested_ip');
    }
    const record = await this.observed(pool, requested, () => pool.allocate({ owner: req.owner, requested, field: 'requested_ip' }));
    return { ip: record.value };
  }

  async releaseLoadBalancerIp(req: allocatorv1.ReleaseLoadBalancerIPRequest): Promise<allocatorv1.ReleaseLoadBalancerIPResponse> {
    validateOwner(req.owner);
    const ip = formatIp(parseIp(req.ip, 'ip'));
    const pool = this.requirePool();
    if (!pool.contains(ip, 'ip')) throw pool.range.notInRange(ip, 'ip');
    return { released: await this.requireReady().ipStore.release(ip, req.owner, 'ip') };
  }

  async getStatus(_req: allocatorv1.GetStatusRequest): Promise<allocatorv1.GetStatusResponse> {
    const ready = this.requireReady();
    const all = ranges(ready).map((a) => {
      const usage = a.usage();
      return {
        kind: KIND_TO_WIRE[a.range.kind]!,
        range: a.range.text,
        ipFamily: ipFamilyToProto(a.range.family),
        size: String(usage.size),
        used: String(usage.used),
        free: String(usage.free),
      };
    });
    return { ranges: all };
  }

  async listAllocations(req: allocatorv1.ListAllocationsRequest): Promise<allocatorv1.ListAllocationsResponse> {
    const ready = this.requireReady();
    if (req.owner !== '') validateOwner(req.owner);
    const pool = ready.loadBalancerIps;
    // The IP bucket holds cluster IPs and load-balancer IPs: the pool's range tells them apart.
    const inPool = (value: string): boolean => {
      try {
        return pool !== undefined && pool.contains(value, 'value');
      } catch {
        return false;
      }
    };
    const kinds: Array<[allocatorv1.RangeKind, AllocationStore, (value: string) => boolean]> = [
      [allocatorv1.RangeKind.RANGE_KIND_CLUSTER_IP, ready.ipStore, (v) => !inPool(v)],
      [allocatorv1.RangeKind.RANGE_KIND_NODE_PORT, ready.portStore, () => true],
      [allocatorv1.RangeKind.RANGE_KIND_LOAD_BALANCER_IP, ready.ipStore, inPool],
    ];
    const known = new Set<number>([allocatorv1.RangeKind.RANGE_KIND_UNSPECIFIED, ...kinds.map(([k]) => k)]);
    if (!known.has(req.kind)) {
      throw invalidField('kind', req.kind, 'supported values: "RANGE_KIND_CLUSTER_IP", "RANGE_KIND_NODE_PORT", "RANGE_KIND_LOAD_BALANCER_IP"');
    }
    const allocations: allocatorv1.Allocation[] = [];
    for (const [kind, store, holds] of kinds) {
      if (req.kind !== allocatorv1.RangeKind.RANGE_KIND_UNSPECIFIED && req.kind !== kind) continue;
      const records = [...store.records()].filter((r) => holds(r.value) && (req.owner === '' || r.owner === req.owner));
      records.sort(byValue);
      for (const r of records) allocations.push({ kind, value: r.value, owner: r.owner, allocatedAt: r.allocatedAt });
    }
    return { allocations };
  }

  private async observed(allocator: RangeAllocator, requested: string | undefined, run: () => Promise<AllocationRecord>): Promise<AllocationRecord> {
    const scope: AllocationScope = requested === undefined ? 'dynamic' : 'static';
    try {
      const record = await run();
      this.observe(allocator.range.kind, allocator.range.text, scope, true);
      return record;
    } catch (err) {
      this.observe(allocator.range.kind, allocator.range.text, scope, false);
      throw err;
    }
  }

  private requirePool(): RangeAllocator {
    const ready = this.requireReady();
    if (!ready.loadBalancerIps) {
      throw new SvcnetError(ErrorCode.FailedPrecondition, 'no load-balancer IP range is configured (svcnet-allocator --load-balancer-ip-range)');
    }
    return ready.loadBalancerIps;
  }

  private requireReady(): ReadyAllocators {
    if (!this.ready) throw new SvcnetError(ErrorCode.Unavailable, 'allocator is starting: the allocation store is not open yet');
    return this.ready;
  }

  private requestedFamily(f: v1.IPFamily, ready: ReadyAllocators): IpFamily | undefined {
    const configured = ready.clusterIps.map((a) => a.range.family);
    const allowed = `supported values: ${configured.map((c) => `"${c}"`).join(', ')} (or unset for ${configured[0]})`;
    if (f === v1.IPFamily.IP_FAMILY_UNSPECIFIED) return undefined;
    const family = ipFamilyFromProto(f);
    if (!family || !configured.includes(family)) throw invalidField('ip_family', family ?? f, allowed);
    return family;
  }
}

/** Ports numerically; IPs by address (IPv4 before IPv6), so 10.96.9.1 comes before 10.96.10.1. */
function byValue(a: AllocationRecord, b: AllocationRecord): number {
  const na = Number(a.value);
  const nb = Number(b.value);
  if (!Number.isNaN(na) && !Number.isNaN(nb)) return na - nb;
  const ia = ipOrUndefined(a.value);
  const ib = ipOrUndefined(b.value);
  if (ia && ib) {
    if (ia.family !== ib.family) return ia.family === IpFamily.IPv4 ? -1 : 1;
    return ia.value < ib.value ? -1 : ia.value > ib.value ? 1 : 0;
  }
  return a.value < b.value ? -1 : a.value > b.value ? 1 : 0;
}

function ipOrUndefined(value: string): ReturnType<typeof parseIp> | undefined {
  try {
    return parseIp(value, 'value');
  } catch {
    return undefined;
  }
}
