import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import {
  CLUSTER_IP_NONE,
  ErrorCode,
  invalidField,
  ipInCidrs,
  loadBalancerIPs,
  mayHaveNodePorts,
  namespacedName,
  SvcnetError,
  validateService,
  validateServiceUpdate,
} from '@svcnet/model';
import type { IpFamily, Service, ServicePort } from '@svcnet/model';
import type { Deleted, ObjectStore } from '@svcnet/store';
import type { Allocations } from './allocations.js';
import { allocateLoadBalancer, heldNodePorts, portWantsNodePort, updateLoadBalancer } from './load-balancer.js';

/** Something to undo if a later step fails. */
type Undo = () => Promise<void>;

function defaultPorts(ports: ServicePort[]): ServicePort[] {
  // Kubernetes defaults targetPort to port; TCP is already the wire default.
  return ports.map((p) => ({ ...p, targetPort: p.targetPort === 0 || p.targetPort === '' ? p.port : p.targetPort }));
}

function specKey(s: Service): string {
  // The load-balancer status is programmed by the agents too: a change of it is a change.
  return JSON.stringify([s.spec, s.status ?? null]);
}

/**
 * Services: validation, ClusterIP and NodePort allocation through the
 * allocator, and the store write, as one step that leaves nothing behind when
 * it fails half-way (what could not be released is left to the repair loop).
 */
/** Parameters of a {@link ServiceManager}. */
export interface ServiceManagerParams {
  store: ObjectStore<Service>;
  allocations: Allocations;
  logger: Logger;
  clock?: () => Date;
  /**
   * CIDRs `spec.externalIPs` may come from (comma-separated); empty refuses
   * every external IP, as Kubernetes with DenyServiceExternalIPs: an external
   * IP captures traffic to that address on every node (CVE-2020-8554).
   */
  externalIpCidrs?: string;
}

/**
 * Refuses external IPs outside the allowed CIDRs. Only IPs the request adds are
 * checked, so tightening the list never blocks updates of older services.
 */
function checkExternalIps(svc: Service, old: Service | undefined, allowed: string): void {
  const before = new Set(old?.spec.externalIPs ?? []);
  svc.spec.externalIPs.forEach((ip, i) => {
    if (before.has(ip)) return;
    const field = `spec.externalIPs[${i}]`;
    if (!allowed) {
      throw new SvcnetError(
        ErrorCode.InvalidArgument,
        `Forbidden: externalIPs are not allowed (the state service's --service-external-ip-cidrs is empty)`,
        { field },
      );
    }
    if (!ipInCidrs(ip, allowed)) {
      throw invalidField(field, ip, `must be inside one of the allowed external IP ranges: ${allowed} (--service-external-ip-cidrs)`);
    }
  });
}

/** Which cluster IPs a create asks for: requested addresses, or one per requested family (at least one). */
function wantedClusterIps(svc: Service): { ip: string; family: IpFamily | undefined }[] {
  const { clusterIPs, clusterIP, ipFamilies } = svc.spec;
  const ips = clusterIPs.length > 0 ? clusterIPs : clusterIP ? [clusterIP] : [];
  const n = Math.max(ips.length, ipFamilies.length, 1);
  return Array.from({ length: n }, (_, i) => ({ ip: ips[i] ?? '', family: ipFamilies[i] }));
}

export class ServiceManager {
  constructor(private readonly params: ServiceManagerParams) {}

  private now(): Date {
    return this.params.clock?.() ?? new Date();
  }

  /** Runs undo steps newest first; a failing release is logged for the repair loop, never hidden. */
  private async rollback(undos: Undo[], owner: string, cause: unknown): Promise<void> {
    for (const undo of undos.reverse()) {
      try {
        await undo();
      } catch (err) {
        this.params.logger.warn({ owner, err, cause }, 'could not release an allocation after a failed write; the repair loop will');
      }
    }
  }

  async create(input: Service): Promise<Service> {
    const now = this.now();
    const svc: Service = {
      metadata: {
        ...input.metadata,
        namespace: input.metadata.namespace || 'default',
        uid: randomUUID(),
        resourceVersion: 0,
        creationTimestamp: now,
        changeTimestamp: now,
      },
      spec: { ...input.spec, ports: defaultPorts(input.spec.ports) },
      ...(input.status ? { status: input.status } : {}),
    };
    if (svc.spec.clusterIPs.length > 0 && !svc.spec.clusterIP) svc.spec.clusterIP = svc.spec.clusterIPs[0]!;
    validateService(svc);
    checkExternalIps(svc, undefined, this.params.externalIpCidrs ?? '');
    const { namespace, name } = svc.metadata;
    if (await this.params.store.tryGet(namespace, name)) {
      throw new SvcnetError(ErrorCode.AlreadyExists, `services "${name}" already exists`);
    }
    const owner = namespacedName(namespace, name);
    const undos: Undo[] = [];
    const alloc = this.params.allocations;
    try {
      if (svc.spec.clusterIP !== CLUSTER_IP_NONE) {
        // Two addresses or two families ask for a dual-stack service (RequireDualStack): both are allocated.
        const ips: string[] = [];
        const families: IpFamily[] = [];
        for (const want of wantedClusterIps(svc)) {
          const got = await alloc.allocateClusterIp(owner, want.ip, want.family);
          undos.push(() => alloc.releaseClusterIp(got.ip, owner));
          ips.push(got.ip);
          if (got.family) families.push(got.family);
        }
        svc.spec.clusterIP = ips[0]!;
        svc.spec.clusterIPs = ips;
        svc.spec.ipFamilies = families;
      } else {
        svc.spec.clusterIPs = [CLUSTER_IP_NONE];
      }
      for (const p of svc.spec.ports) {
        if (!portWantsNodePort(svc, p.nodePort)) continue;
        const port = await alloc.allocateNodePort(owner, p.nodePort);
        undos.push(() => alloc.releaseNodePort(port, owner));
        p.nodePort = port;
      }
      await allocateLoadBalancer({ svc, owner, alloc, undos });
      return await this.params.store.create(svc);
    } catch (err) {
      await this.rollback(undos, owner, err);
      throw err;
    }
  }

  async update(input: Service): Promise<Service> {
    const namespace = input.metadata.namespace || 'default';
    const { name } = input.metadata;
    const old = await this.params.store.get(namespace, name);
    const expected = input.metadata.resourceVersion || old.metadata.resourceVersion;
    if (expected !== old.metadata.resourceVersion) {
      throw new SvcnetError(
        ErrorCode.Aborted,
        `Operation cannot be fulfilled on services "${name}": the object has been modified; please apply your changes to the latest version and try again`,
      );
    }
    const svc: Service = {
      metadata: {
        ...input.metadata,
        namespace,
        uid: old.metadata.uid,
        resourceVersion: old.metadata.resourceVersion,
        ...(old.metadata.creationTimestamp ? { creationTimestamp: old.metadata.creationTimestamp } : {}),
      },
      spec: { ...input.spec, ports: defaultPorts(input.spec.ports) },
      ...(input.status ? { status: input.status } : {}),
    };
    // Unset fields keep their allocated values, as `kubectl apply` expects.
    if (!svc.spec.clusterIP) svc.spec.clusterIP = old.spec.clusterIP;
    if (svc.spec.clusterIPs.length === 0) svc.spec.clusterIPs = [...old.spec.clusterIPs];
    if (svc.spec.ipFamilies.length === 0) svc.spec.ipFamilies = [...old.spec.ipFamilies];
    // Kubernetes drops node ports when a service stops being NodePort or LoadBalancer.
    if (!mayHaveNodePorts(svc.spec.type)) for (const p of svc.spec.ports) p.nodePort = 0;
    validateService(svc);
    validateServiceUpdate(old, svc);
    checkExternalIps(svc, old, this.params.externalIpCidrs ?? '');

    const owner = namespacedName(namespace, name);
    const alloc = this.params.allocations;
    const oldPorts = mayHaveNodePorts(old.spec.type) ? old.spec.ports.map((p) => p.nodePort).filter((p) => p > 0) : [];
    const kept = new Set<number>();
    const undos: Undo[] = [];
    try {
      if (mayHaveNodePorts(svc.spec.type)) {
        for (const p of svc.spec.ports) {
          if (p.nodePort === 0 && portWantsNodePort(svc, 0)) {
            // Keep the node port of the same port across updates (by name, else number/protocol).
            const same = old.spec.ports.find((o) => (p.name && o.name === p.name) || (o.port === p.port && o.protocol === p.protocol));
            if (same && same.nodePort > 0 && oldPorts.includes(same.nodePort) && !kept.has(same.nodePort)) p.nodePort = same.nodePort;
          }
          if (p.nodePort > 0 && oldPorts.includes(p.nodePort) && !kept.has(p.nodePort)) {
            kept.add(p.nodePort);
            continue;
          }
          if (!portWantsNodePort(svc, p.nodePort)) continue;
          const port = await alloc.allocateNodePort(owner, p.nodePort);
          undos.push(() => alloc.releaseNodePort(port, owner));
          p.nodePort = port;
        }
      }
      const releases = await updateLoadBalancer({ svc, old, owner, alloc, undos });
      validateService(svc);
      const changed = specKey(svc) !== specKey(old);
      svc.metadata.changeTimestamp = changed ? this.now() : (old.metadata.changeTimestamp ?? this.now());
      const saved = await this.params.store.update(svc, old.metadata.resourceVersion);
      for (const port of oldPorts.filter((p) => !kept.has(p))) {
        await alloc.releaseNodePort(port, owner).catch((err: unknown) => {
          this.params.logger.warn({ owner, port, err }, 'could not release a node port no longer used; the repair loop will');
        });
      }
      for (const release of releases) {
        await release().catch((err: unknown) => {
          this.params.logger.warn({ owner, err }, 'could not release a load-balancer allocation no longer used; the repair loop will');
        });
      }
      return saved;
    } catch (err) {
      await this.rollback(undos, owner, err);
      throw err;
    }
  }

  /**
   * Deletes the service and releases what it held. A damaged (undecodable)
   * record is deleted too; what it held is released by the repair loop.
   */
  async delete(namespace: string, name: string): Promise<Deleted<Service>> {
    const ns = namespace || 'default';
    const result = await this.params.store.delete(ns, name);
    const deleted = result.object;
    if (!deleted) {
      this.params.logger.warn({ service: `${ns}/${name}` }, 'deleted an undecodable service record; its allocations are left to the repair loop');
      return result;
    }
    const owner = namespacedName(ns, name);
    const alloc = this.params.allocations;
    const releases: Promise<void>[] = [];
    for (const ip of deleted.spec.clusterIPs.filter((ip) => ip && ip !== CLUSTER_IP_NONE)) {
      releases.push(alloc.releaseClusterIp(ip, owner));
    }
    for (const port of heldNodePorts(deleted)) releases.push(alloc.releaseNodePort(port, owner));
    if (deleted.spec.type === 'LoadBalancer') for (const ip of loadBalancerIPs(deleted)) releases.push(alloc.releaseLoadBalancerIp(ip, owner));
    const results = await Promise.allSettled(releases);
    for (const r of results) {
      if (r.status === 'rejected') {
        this.params.logger.warn({ owner, err: r.reason as unknown }, 'could not release after delete; the repair loop will');
      }
    }
    return result;
  }
}
