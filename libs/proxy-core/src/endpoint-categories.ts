/**
 * Which endpoints each kind of traffic may use, as kube-proxy's
 * CategorizeEndpoints decides it (KEP-1669 terminating endpoints included).
 * Every proxy mode renders from this one answer, so the modes cannot disagree
 * about who gets a connection.
 */
import type { EndpointInfo, ServicePortInfo } from './types.js';

/** The endpoint sets of one service port on one node. */
export interface EndpointCategories {
  /**
   * The Cluster policy's endpoints: every ready endpoint; when none is ready
   * anywhere, every serving-and-terminating one (a best effort so that
   * connections are not refused while a rollout finishes).
   */
  cluster: readonly EndpointInfo[];
  /** The Local policy's endpoints: ready ones on this node; if none, serving-and-terminating ones on this node. */
  local: readonly EndpointInfo[];
  /** Some endpoint anywhere is ready or serving-and-terminating: without one the service refuses (REJECT). */
  hasAny: boolean;
  /** ClusterIP traffic: `local` with internalTrafficPolicy Local, else `cluster`. */
  internal: readonly EndpointInfo[];
  /** NodePort, external IP and load-balancer traffic from outside: `local` with externalTrafficPolicy Local, else `cluster`. */
  external: readonly EndpointInfo[];
}

const usable = (e: EndpointInfo): boolean => e.ready;
const fallback = (e: EndpointInfo): boolean => e.serving && e.terminating;

/** Ready endpoints, else serving-and-terminating ones (the list is kept when it already is all ready). */
function readyOrTerminating(eps: readonly EndpointInfo[]): readonly EndpointInfo[] {
  if (eps.every(usable)) return eps;
  const ready = eps.filter(usable);
  return ready.length > 0 ? ready : eps.filter(fallback);
}

/**
 * Sorts one service port's endpoints into kube-proxy's categories. The local
 * set falls back to terminating endpoints on its own: a node whose only
 * local pod is terminating keeps serving with it while other nodes still have
 * ready pods, exactly as kube-proxy does.
 */
export function categorizeEndpoints(svc: Pick<ServicePortInfo, 'internalPolicyLocal' | 'externalPolicyLocal'>, eps: readonly EndpointInfo[]): EndpointCategories {
  const cluster = readyOrTerminating(eps);
  const onNode = eps.filter((e) => e.isLocal);
  const local = onNode.length === 0 ? onNode : readyOrTerminating(onNode);
  return {
    cluster,
    local,
    hasAny: cluster.length > 0,
    internal: svc.internalPolicyLocal ? local : cluster,
    external: svc.externalPolicyLocal ? local : cluster,
  };
}
