/**
 * The endpoints controller's pure core: which pods back a service and on
 * which ports, as Kubernetes' endpoints controller computes it.
 */
import { ErrorCode, SvcnetError } from './errors.js';
import type { EndpointAddress, EndpointPort, EndpointSubset, Endpoints, Pod, Service, ServicePort } from './types.js';

/** True when every selector label is on the pod. An empty selector selects nothing. */
export function selectorMatches(selector: Record<string, string>, labels: Record<string, string>): boolean {
  const entries = Object.entries(selector);
  if (entries.length === 0) return false;
  return entries.every(([k, v]) => labels[k] === v);
}

/**
 * Parses an equality-based label selector (`app=web,tier!=db` is not
 * supported: only `k=v` and `k==v`, comma-separated). Empty → {}.
 */
export function parseLabelSelector(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^([^=!\s]+)\s*==?\s*([^=\s]*)$/.exec(part);
    if (!m) {
      throw new SvcnetError(ErrorCode.InvalidArgument, `unable to parse requirement: "${part}": only k=v is supported`, {
        field: 'labelSelector',
      });
    }
    out[m[1]!] = m[2]!;
  }
  return out;
}

/** Every label of the selector on the object (an empty selector matches all). */
export function labelsMatch(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/**
 * The pod port a service port sends to: a number as is (0 = the service port),
 * a name through the pod's container ports of the same protocol. Undefined when
 * the pod has no such named port (Kubernetes skips the pod for that port).
 */
export function resolveTargetPort(port: ServicePort, pod: Pod): number | undefined {
  const target = port.targetPort;
  if (typeof target === 'number') return target === 0 ? port.port : target;
  const found = pod.containerPorts.find((c) => c.name === target && c.protocol === port.protocol);
  return found?.containerPort;
}

function addressFor(pod: Pod): EndpointAddress {
  // EndpointSlice conditions: serving follows readiness, ready = serving && !terminating.
  return {
    ip: pod.ip,
    nodeName: pod.nodeName,
    ready: pod.ready && !pod.terminating,
    serving: pod.ready,
    terminating: pod.terminating,
    podRef: { kind: 'Pod', namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid },
  };
}

function compareAddresses(a: EndpointAddress, b: EndpointAddress): number {
  return a.ip.localeCompare(b.ip) || (a.podRef?.name ?? '').localeCompare(b.podRef?.name ?? '');
}

function comparePorts(a: EndpointPort, b: EndpointPort): number {
  return a.name.localeCompare(b.name) || a.port - b.port || a.protocol.localeCompare(b.protocol);
}

/**
 * Endpoint subsets of a service with a selector: the pods of its namespace
 * whose labels match (ready or not, flagged), grouped by resolved port set.
 * Pods without an IP are left out. Deterministic: sorted addresses and ports.
 */
export function computeEndpointSubsets(service: Service, pods: readonly Pod[]): EndpointSubset[] {
  const groups = new Map<string, EndpointSubset>();
  for (const pod of pods) {
    if (pod.metadata.namespace !== service.metadata.namespace) continue;
    if (!pod.ip || !selectorMatches(service.spec.selector, pod.metadata.labels)) continue;
    const ports: EndpointPort[] = [];
    for (const sp of service.spec.ports) {
      const port = resolveTargetPort(sp, pod);
      if (port !== undefined) ports.push({ name: sp.name, port, protocol: sp.protocol });
    }
    // A headless service may have no ports; a pod whose named ports all fail to
    // resolve serves nothing for a service that has ports.
    if (service.spec.ports.length > 0 && ports.length === 0) continue;
    ports.sort(comparePorts);
    const groupKey = ports.map((p) => `${p.name}/${p.port}/${p.protocol}`).join(',');
    let group = groups.get(groupKey);
    if (!group) {
      group = { addresses: [], ports };
      groups.set(groupKey, group);
    }
    group.addresses.push(addressFor(pod));
  }
  const subsets = [...groups.values()];
  for (const s of subsets) s.addresses.sort(compareAddresses);
  subsets.sort((a, b) => compareAddresses(a.addresses[0]!, b.addresses[0]!));
  return subsets;
}

/** True when two subset lists say the same thing (what node agents would program). */
export function endpointSubsetsEqual(a: readonly EndpointSubset[], b: readonly EndpointSubset[]): boolean {
  const norm = (subsets: readonly EndpointSubset[]): string =>
    JSON.stringify(
      subsets.map((s) => ({
        addresses: [...s.addresses]
          .sort(compareAddresses)
          .map((x) => [x.ip, x.nodeName, x.ready, x.serving, x.terminating, x.podRef?.name ?? '', x.podRef?.uid ?? '']),
        ports: [...s.ports].sort(comparePorts).map((p) => [p.name, p.port, p.protocol]),
      })),
    );
  return norm(a) === norm(b);
}

/** A fresh Endpoints object for a service (same namespace/name, service's labels). */
export function endpointsForService(service: Service, subsets: EndpointSubset[], now: Date): Endpoints {
  return {
    metadata: {
      namespace: service.metadata.namespace,
      name: service.metadata.name,
      uid: '',
      labels: { ...service.metadata.labels },
      annotations: {},
      resourceVersion: 0,
      creationTimestamp: now,
      changeTimestamp: now,
    },
    subsets,
  };
}
