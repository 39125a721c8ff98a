import { registerBuildInfo } from '@svcnet/service-runtime';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { GrpcServerMetrics } from '@svcnet/service-runtime';

/** Whether the caller asked for a specific value (Kubernetes' "static") or any free one ("dynamic"). */
export type AllocationScope = 'static' | 'dynamic';

/** One range's usage, read when /metrics is scraped. */
export interface RangeGauge {
  kind: 'ClusterIP' | 'NodePort' | 'LoadBalancerIP';
  /** The CIDR or the port range, as configured. */
  range: string;
  used: bigint;
  free: bigint;
}

/**
 * The allocator's Prometheus metrics:
 * - grpc_server_handled_total / grpc_server_handling_seconds, named as in
 *   grpc-ecosystem's go-grpc-prometheus, so existing gRPC dashboards work;
 * - the apiserver's allocator metrics (kube_apiserver_clusterip_allocator_*,
 *   kube_apiserver_nodeport_allocator_*) under the svcnet_ prefix;
 * - whether NATS is reachable, and Node's process metrics (GC pauses,
 *   event-loop lag) — the first place to look when latency has a tail.
 */
export class AllocatorMetrics {
  readonly registry = new Registry();
  /** grpc_server_* series of svcnet.v1.Allocator. */
  readonly grpc = new GrpcServerMetrics('svcnet.v1.Allocator', this.registry);
  private readonly ipAllocations: Counter<'cidr' | 'scope'>;
  private readonly ipAllocationErrors: Counter<'cidr' | 'scope'>;
  private readonly portAllocations: Counter<'scope'>;
  private readonly portAllocationErrors: Counter<'scope'>;
  private readonly lbAllocations: Counter<'cidr' | 'scope'>;
  private readonly lbAllocationErrors: Counter<'cidr' | 'scope'>;

  constructor(usage: () => RangeGauge[], storeAvailable: () => boolean, defaultMetrics = true) {
    const registers = [this.registry];
    registerBuildInfo(this.registry, 'svcnet-allocator');
    this.ipAllocations = new Counter({
      name: 'svcnet_clusterip_allocator_allocation_total',
      help: 'ClusterIPs allocated, by range and scope (static: a requested IP; dynamic: any free one).',
      labelNames: ['cidr', 'scope'],
      registers,
    });
    this.ipAllocationErrors = new Counter({
      name: 'svcnet_clusterip_allocator_allocation_errors_total',
      help: 'ClusterIP allocations refused or failed (taken, outside the range, range full, store unavailable).',
      labelNames: ['cidr', 'scope'],
      registers,
    });
    this.portAllocations = new Counter({
      name: 'svcnet_nodeport_allocator_allocation_total',
      help: 'NodePorts allocated, by scope.',
      labelNames: ['scope'],
      registers,
    });
    this.portAllocationErrors = new Counter({
      name: 'svcnet_nodeport_allocator_allocation_errors_total',
      help: 'NodePort allocations refused or failed.',
      labelNames: ['scope'],
      registers,
    });
    this.lbAllocations = new Counter({
      name: 'svcnet_loadbalancer_ip_allocator_allocation_total',
      help: 'Load-balancer IPs allocated from --load-balancer-ip-range, by range and scope.',
      labelNames: ['cidr', 'scope'],
      registers,
    });
    this.lbAllocationErrors = new Counter({
      name: 'svcnet_loadbalancer_ip_allocator_allocation_errors_total',
      help: 'Load-balancer IP allocations refused or failed.',
      labelNames: ['cidr', 'scope'],
      registers,
    });
    const gauge = (name: string, help: string, kind: RangeGauge['kind'], pick: (g: RangeGauge) => bigint) =>
      new Gauge({
        name,
        help,
        labelNames: kind === 'NodePort' ? [] : ['cidr'],
        registers,
        collect() {
          this.reset();
          for (const g of usage()) {
            if (g.kind !== kind) continue;
            // An IPv6 range exceeds 2^53: the gauge is a float anyway.
            if (kind !== 'NodePort') this.set({ cidr: g.range }, Number(pick(g)));
            else this.set(Number(pick(g)));
          }
        },
      });
    gauge('svcnet_clusterip_allocator_allocated_ips', 'ClusterIPs allocated, by range.', 'ClusterIP', (g) => g.used);
    gauge('svcnet_clusterip_allocator_available_ips', 'ClusterIPs still free, by range.', 'ClusterIP', (g) => g.free);
    gauge('svcnet_nodeport_allocator_allocated_ports', 'NodePorts allocated.', 'NodePort', (g) => g.used);
    gauge('svcnet_nodeport_allocator_available_ports', 'NodePorts still free.', 'NodePort', (g) => g.free);
    gauge('svcnet_loadbalancer_ip_allocator_allocated_ips', 'Load-balancer IPs allocated, by range.', 'LoadBalancerIP', (g) => g.used);
    gauge('svcnet_loadbalancer_ip_allocator_available_ips', 'Load-balancer IPs still free, by range.', 'LoadBalancerIP', (g) => g.free);
    new Gauge({
      name: 'svcnet_allocator_store_available',
      help: '1 while the allocation store (NATS JetStream) is connected and open, else 0.',
      registers,
      collect() {
        this.set(storeAvailable() ? 1 : 0);
      },
    });
    if (defaultMetrics) collectDefaultMetrics({ register: this.registry });
  }

  /** One allocation attempt that got past request validation. */
  observeAllocation(kind: RangeGauge['kind'], range: string, scope: AllocationScope, ok: boolean): void {
    if (kind === 'ClusterIP') (ok ? this.ipAllocations : this.ipAllocationErrors).inc({ cidr: range, scope });
    else if (kind === 'LoadBalancerIP') (ok ? this.lbAllocations : this.lbAllocationErrors).inc({ cidr: range, scope });
    else (ok ? this.portAllocations : this.portAllocationErrors).inc({ scope });
  }
}
