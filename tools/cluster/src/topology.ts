/**
 * The address plan of a local cluster: pure functions, no I/O.
 *
 *   <name>-net   a bridge "wire0" joining every other namespace (192.168.77.0/24)
 *   <name>-cp    control plane: nats-server, allocator, state at 192.168.77.2
 *   <name>-nodeN node N at 192.168.77.(10+N); bridge cbr0 10.244.N.1/24 for its pods
 *   <name>-ext   an "external" client at 192.168.77.100 (no routes to pod CIDRs)
 *   <name>-pod-X one namespace per pod, eth0 on its node's cbr0
 */

export const WIRE_PREFIX = '192.168.77';
export const WIRE_BITS = 24;
export const POD_NETWORK_CIDR = '10.244.0.0/16';
export const SERVICE_CLUSTER_IP_RANGE = '10.96.0.0/16';
export const SERVICE_NODE_PORT_RANGE = '30000-32767';
export const MAX_NODES = 80;

/** Fixed ports: each namespace has its own port space, so nothing collides across clusters. */
export const ControlPlanePorts = { nats: 4222, natsRoute: 6222, natsMonitor: 8222, state: 9000, allocator: 9001 } as const;
export const AgentPorts = { healthz: 10256, metrics: 10249 } as const;

/** `nats://host:4222,nats://host:4223,…` for the control plane's `size` NATS servers. */
export function natsUrls(host: string, size: number): string {
  return Array.from({ length: size }, (_, i) => `nats://${host}:${ControlPlanePorts.nats + i}`).join(',');
}

/** One node's names and addresses. */
export interface NodePlan {
  index: number;
  /** The node name agents and pods use (`node1`, `node2`…). */
  name: string;
  ns: string;
  /** Address on the wire; the agent's --node-ip and the NodePort address. */
  ip: string;
  podCidr: string;
  /** cbr0's address: every pod's default gateway. */
  gateway: string;
  /** Name of the wire-side veth inside the net namespace. */
  wireVeth: string;
}

/** The names and addresses of a whole cluster. */
export interface ClusterPlan {
  name: string;
  wireNs: string;
  wireBridge: string;
  controlPlane: { ns: string; ip: string; wireVeth: string };
  external: { ns: string; ip: string; wireVeth: string };
  nodes: NodePlan[];
}

/** Cluster names prefix every namespace; keep them short and shell-safe. */
export function validClusterName(name: string): boolean {
  return /^[a-z][a-z0-9]{0,11}$/.test(name);
}

/** Pod names: DNS-1123 labels short enough for a namespace name. */
export function validPodName(name: string): boolean {
  return /^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$/.test(name);
}

export function nodePlan(cluster: string, index: number): NodePlan {
  if (!Number.isInteger(index) || index < 1 || index > MAX_NODES) throw new RangeError(`node index ${index} out of 1..${MAX_NODES}`);
  return {
    index,
    name: `node${index}`,
    ns: `${cluster}-node${index}`,
    ip: `${WIRE_PREFIX}.${10 + index}`,
    podCidr: `10.244.${index}.0/24`,
    gateway: `10.244.${index}.1`,
    wireVeth: `w-node${index}`,
  };
}

/** Plans a cluster of `nodes` nodes named `name`. */
export function planCluster(name: string, nodes: number): ClusterPlan {
  if (!validClusterName(name)) throw new RangeError(`cluster name ${JSON.stringify(name)}: use [a-z][a-z0-9]{0,11}`);
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > MAX_NODES) throw new RangeError(`--nodes must be 1..${MAX_NODES}`);
  return {
    name,
    wireNs: `${name}-net`,
    wireBridge: 'wire0',
    controlPlane: { ns: `${name}-cp`, ip: `${WIRE_PREFIX}.2`, wireVeth: 'w-cp' },
    external: { ns: `${name}-ext`, ip: `${WIRE_PREFIX}.100`, wireVeth: 'w-ext' },
    nodes: Array.from({ length: nodes }, (_, i) => nodePlan(name, i + 1)),
  };
}

/** The namespace of a pod. */
export function podNs(cluster: string, pod: string): string {
  return `${cluster}-pod-${pod}`;
}

/** The lowest free pod address in a node's /24 (.2–.254; .1 is the gateway). */
export function nextPodIp(node: NodePlan, used: readonly string[]): string {
  const taken = new Set(used);
  const base = node.gateway.split('.').slice(0, 3).join('.');
  for (let host = 2; host <= 254; host++) {
    const ip = `${base}.${host}`;
    if (!taken.has(ip)) return ip;
  }
  throw new RangeError(`pod CIDR ${node.podCidr} of ${node.name} is full`);
}
