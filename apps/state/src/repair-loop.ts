import type { Logger } from 'pino';
import { CLUSTER_IP_NONE, loadBalancerIPs, namespacedName } from '@svcnet/model';
import type { Service } from '@svcnet/model';
import type { ObjectStore } from '@svcnet/store';
import type { AllocationRecord, Allocations } from './allocations.js';
import { heldNodePorts } from './load-balancer.js';

/** Kubernetes releases a leaked IP/port only after seeing it leaked this many times in a row. */
export const LEAK_SIGHTINGS_BEFORE_RELEASE = 3;

export interface RepairReport {
  /** Allocations released because no service owns them any more. */
  released: AllocationRecord[];
  /** Allocations seen leaked, not yet released (count so far). */
  suspected: { allocation: AllocationRecord; sightings: number }[];
  /** Services holding an IP or node port the allocator does not have for them. */
  unknownToAllocator: { service: string; kind: AllocationRecord['kind']; value: string }[];
}

function allocationId(a: { kind: string; value: string }): string {
  return `${a.kind}:${a.value}`;
}

/**
 * The allocation repair loop (Kubernetes' ipallocator/portallocator
 * controllers): compares what the allocator has handed out with what the
 * services hold. Leaks, e.g. from a create that died half-way, are released
 * after several sightings (an allocation may belong to a create still in
 * flight); services whose values the allocator does not know are reported.
 */
export class RepairLoop {
  private readonly sightings = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly params: {
      services: ObjectStore<Service>;
      allocations: Allocations;
      logger: Logger;
      intervalMs: number;
    },
  ) {}

  /** One pass. Throws when the allocator or the store cannot be read. */
  async runOnce(): Promise<RepairReport> {
    const [allocs, { items: services }] = await Promise.all([this.params.allocations.list(), this.params.services.list()]);
    const held = new Map<string, string>();
    for (const svc of services) {
      const owner = namespacedName(svc.metadata.namespace, svc.metadata.name);
      for (const ip of svc.spec.clusterIPs) if (ip && ip !== CLUSTER_IP_NONE) held.set(allocationId({ kind: 'ClusterIP', value: ip }), owner);
      for (const port of heldNodePorts(svc)) held.set(allocationId({ kind: 'NodePort', value: String(port) }), owner);
      if (svc.spec.type === 'LoadBalancer') {
        for (const ip of loadBalancerIPs(svc)) held.set(allocationId({ kind: 'LoadBalancerIP', value: ip }), owner);
      }
    }
    const report: RepairReport = { released: [], suspected: [], unknownToAllocator: [] };
    const seenNow = new Set<string>();
    const allocated = new Map<string, AllocationRecord>();
    for (const a of allocs) {
      const id = allocationId(a);
      allocated.set(id, a);
      if (held.get(id) === a.owner) continue;
      seenNow.add(id);
      const count = (this.sightings.get(id) ?? 0) + 1;
      this.sightings.set(id, count);
      if (count < LEAK_SIGHTINGS_BEFORE_RELEASE) {
        report.suspected.push({ allocation: a, sightings: count });
        continue;
      }
      if (a.kind === 'ClusterIP') await this.params.allocations.releaseClusterIp(a.value, a.owner);
      else if (a.kind === 'LoadBalancerIP') await this.params.allocations.releaseLoadBalancerIp(a.value, a.owner);
      else await this.params.allocations.releaseNodePort(Number(a.value), a.owner);
      this.sightings.delete(id);
      report.released.push(a);
      this.params.logger.warn({ kind: a.kind, value: a.value, owner: a.owner }, 'released a leaked allocation: its owner no longer holds it');
    }
    for (const id of [...this.sightings.keys()]) if (!seenNow.has(id)) this.sightings.delete(id);
    for (const [id, owner] of held) {
      const a = allocated.get(id);
      if (a && a.owner === owner) continue;
      const [kind, value] = id.split(/:(.*)/s) as [AllocationRecord['kind'], string];
      // Ingress IPs outside the pool belong to an external load-balancer controller, not to the allocator.
      if (kind === 'LoadBalancerIP' && !a) continue;
      report.unknownToAllocator.push({ service: owner, kind, value });
      this.params.logger.error(
        { service: owner, kind, value, allocatedTo: a?.owner },
        `the ${kind === 'ClusterIP' ? 'cluster IP' : kind === 'NodePort' ? 'node port' : 'load-balancer IP'} ${value} of service ${owner} is not allocated to it by the allocator`,
      );
    }
    return report;
  }

  start(): void {
    const tick = (): void => {
      this.running = this.runOnce()
        .then(
          (r) => this.params.logger.debug({ released: r.released.length, suspected: r.suspected.length }, 'repair pass done'),
          (err: unknown) => this.params.logger.warn({ err }, 'repair pass failed; retrying next interval'),
        )
        .finally(() => {
          this.running = undefined;
          if (this.timer !== undefined) this.timer = setTimeout(tick, this.params.intervalMs);
        });
    };
    this.timer = setTimeout(tick, this.params.intervalMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
