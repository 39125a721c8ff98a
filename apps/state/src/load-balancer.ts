/**
 * What a LoadBalancer service holds besides its cluster IP: node ports
 * (unless allocateLoadBalancerNodePorts is false), a health check node port
 * (with externalTrafficPolicy Local), and load-balancer ingress IPs — given by
 * the client (an external load-balancer controller) or taken from the
 * allocator's pool. Each step returns how to undo itself, so a create or
 * update that fails half-way leaves nothing behind.
 */
import { hasNodePorts, loadBalancerIPs, mayHaveNodePorts, type Service } from '@svcnet/model';
import type { Allocations } from './allocations.js';

type Undo = () => Promise<void>;

/** True when the spec wants a health check node port (kube-proxy serves one for exactly these). */
export function wantsHealthCheckNodePort(svc: Service): boolean {
  return svc.spec.type === 'LoadBalancer' && svc.spec.externalTrafficPolicy === 'Local';
}

/** Whether a port of the service gets a node port: every port of NodePort/LoadBalancer types, or an explicit one. */
export function portWantsNodePort(svc: Service, nodePort: number): boolean {
  return hasNodePorts(svc.spec) || (mayHaveNodePorts(svc.spec.type) && nodePort > 0);
}

/** The node ports a stored service holds. */
export function heldNodePorts(svc: Service): number[] {
  if (!mayHaveNodePorts(svc.spec.type)) return [];
  const ports = svc.spec.ports.map((p) => p.nodePort);
  if (svc.spec.healthCheckNodePort) ports.push(svc.spec.healthCheckNodePort);
  return ports.filter((p) => p > 0);
}

/**
 * Create: the health check node port and the ingress IPs. Given ingress IPs
 * inside the pool are taken from it (so it never hands them out twice); with
 * none given, one comes from the pool (none when there is no pool: the
 * service stays pending, as `<pending>` in `svcnetctl get`).
 */
export async function allocateLoadBalancer(p: { svc: Service; owner: string; alloc: Allocations; undos: Undo[] }): Promise<void> {
  const { svc, owner, alloc, undos } = p;
  if (svc.spec.type !== 'LoadBalancer') {
    delete svc.status;
    if (svc.spec.healthCheckNodePort) svc.spec.healthCheckNodePort = 0;
    return;
  }
  if (wantsHealthCheckNodePort(svc)) {
    const port = await alloc.allocateNodePort(owner, svc.spec.healthCheckNodePort ?? 0);
    undos.push(() => alloc.releaseNodePort(port, owner));
    svc.spec.healthCheckNodePort = port;
  }
  const given = loadBalancerIPs(svc);
  for (const ip of given) {
    const got = await alloc.allocateLoadBalancerIp(owner, ip);
    if (got) undos.push(() => alloc.releaseLoadBalancerIp(got, owner));
  }
  if (given.length === 0 && !(svc.status?.loadBalancer.ingress.length ?? 0)) {
    const ip = await alloc.allocateLoadBalancerIp(owner);
    if (ip) {
      undos.push(() => alloc.releaseLoadBalancerIp(ip, owner));
      svc.status = { loadBalancer: { ingress: [{ ip }] } };
    }
  }
}

/**
 * Update: keeps what the old service held and still applies, takes what is
 * new, and returns the releases to run once the update is stored.
 */
export async function updateLoadBalancer(p: { svc: Service; old: Service; owner: string; alloc: Allocations; undos: Undo[] }): Promise<Undo[]> {
  const { svc, old, owner, alloc, undos } = p;
  const releases: Undo[] = [];
  // Health check node port: kept while wanted (unless another is asked for), released when not.
  const oldHc = old.spec.healthCheckNodePort ?? 0;
  if (wantsHealthCheckNodePort(svc)) {
    const want = svc.spec.healthCheckNodePort ?? 0;
    if (oldHc > 0 && (want === 0 || want === oldHc)) svc.spec.healthCheckNodePort = oldHc;
    else {
      const port = await alloc.allocateNodePort(owner, want);
      undos.push(() => alloc.releaseNodePort(port, owner));
      svc.spec.healthCheckNodePort = port;
      if (oldHc > 0) releases.push(() => alloc.releaseNodePort(oldHc, owner));
    }
  } else {
    if (svc.spec.healthCheckNodePort) svc.spec.healthCheckNodePort = 0;
    if (oldHc > 0) releases.push(() => alloc.releaseNodePort(oldHc, owner));
  }
  // Ingress IPs: a request without a status keeps the old one (as `kubectl apply` of a spec does).
  const before = old.spec.type === 'LoadBalancer' ? loadBalancerIPs(old) : [];
  if (svc.spec.type !== 'LoadBalancer') {
    delete svc.status;
  } else if (!(svc.status?.loadBalancer.ingress.length ?? 0)) {
    if (old.status?.loadBalancer.ingress.length) svc.status = old.status;
    else {
      const ip = await alloc.allocateLoadBalancerIp(owner);
      if (ip) {
        undos.push(() => alloc.releaseLoadBalancerIp(ip, owner));
        svc.status = { loadBalancer: { ingress: [{ ip }] } };
      }
    }
  } else {
    for (const ip of loadBalancerIPs(svc).filter((x) => !before.includes(x))) {
      const got = await alloc.allocateLoadBalancerIp(owner, ip);
      if (got) undos.push(() => alloc.releaseLoadBalancerIp(got, owner));
    }
  }
  const after = svc.spec.type === 'LoadBalancer' ? loadBalancerIPs(svc) : [];
  for (const ip of before.filter((x) => !after.includes(x))) releases.push(() => alloc.releaseLoadBalancerIp(ip, owner));
  return releases;
}
