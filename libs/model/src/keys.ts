import type { ObjectKind } from './types.js';

/** Name of the JetStream KV bucket holding services, pods and endpoints. */
export const STATE_BUCKET = 'svcnet-state';

/** JetStream KV buckets of the allocator: one key per allocated value. */
export const ALLOCATION_BUCKETS = {
  /** ClusterIPs, IPv4 and IPv6: key = the canonical IP with ':' written as '-'. */
  clusterIps: 'svcnet-alloc-ips',
  /** NodePorts: key = the port in decimal. */
  nodePorts: 'svcnet-alloc-ports',
} as const;

const KEY_PREFIX: Record<ObjectKind, string> = {
  Service: 'services',
  Pod: 'pods',
  Endpoints: 'endpoints',
};

/** A parsed state-bucket key. */
export interface ObjectKey {
  kind: ObjectKind;
  namespace: string;
  name: string;
}

/** `services.<ns>.<name>` etc. Names are DNS labels, so they never contain dots. */
export function objectKey(kind: ObjectKind, namespace: string, name: string): string {
  return `${KEY_PREFIX[kind]}.${namespace}.${name}`;
}

/** The subject filter that matches every key of a kind (optionally one namespace). */
export function kindKeyFilter(kind: ObjectKind, namespace?: string): string {
  return namespace ? `${KEY_PREFIX[kind]}.${namespace}.*` : `${KEY_PREFIX[kind]}.*.*`;
}

/** Parses a state key; undefined for anything that is not one of ours. */
export function parseObjectKey(key: string): ObjectKey | undefined {
  const parts = key.split('.');
  if (parts.length !== 3) return undefined;
  const [prefix, namespace, name] = parts as [string, string, string];
  const kind = (Object.keys(KEY_PREFIX) as ObjectKind[]).find((k) => KEY_PREFIX[k] === prefix);
  if (!kind || !namespace || !name) return undefined;
  return { kind, namespace, name };
}

/** "ns/name", the owner string used by the allocator and in rule comments. */
export function namespacedName(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}
