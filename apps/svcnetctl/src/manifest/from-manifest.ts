/**
 * Kubernetes-shaped manifests (apiVersion v1, kind Service | Pod | Endpoints)
 * → domain objects. Only the shape is checked here (types, enum values); the
 * state service validates the content, so its messages reach the user as-is.
 */
import type {
  ContainerPort,
  EndpointAddress,
  EndpointSubset,
  Endpoints,
  IntOrString,
  ObjectMeta,
  Pod,
  Protocol,
  Service,
  ServicePort,
} from '@svcnet/model';

/** A manifest the CLI cannot turn into an object (wrong shape, unknown kind). */
export class ManifestError extends Error {
  override readonly name = 'ManifestError';
  constructor(
    message: string,
    readonly field?: string,
  ) {
    super(field ? `${field}: ${message}` : message);
  }
}

/** The object kinds `apply` understands. */
export type ManifestObject =
  | { kind: 'Service'; object: Service }
  | { kind: 'Pod'; object: Pod }
  | { kind: 'Endpoints'; object: Endpoints };

type Json = Record<string, unknown>;

function describeType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

function obj(v: unknown, field: string): Json {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new ManifestError(`expected an object, got ${describeType(v)}`, field);
  return v as Json;
}

function list(v: unknown, field: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new ManifestError(`expected a list, got ${describeType(v)}`, field);
  return v;
}

function str(v: unknown, field: string, fallback = ''): string {
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'string') throw new ManifestError(`expected a string, got ${describeType(v)} ${JSON.stringify(v)}`, field);
  return v;
}

function int(v: unknown, field: string): number {
  if (v === undefined || v === null) return 0;
  if (typeof v !== 'number' || !Number.isInteger(v)) {
    throw new ManifestError(`expected an integer, got ${describeType(v)} ${JSON.stringify(v)}`, field);
  }
  return v;
}

function oneOf<T extends string>(v: unknown, field: string, allowed: readonly T[], fallback: T): T {
  const s = str(v, field, fallback);
  if (s === '') return fallback;
  if (!(allowed as readonly string[]).includes(s)) {
    throw new ManifestError(
      `Unsupported value: ${JSON.stringify(s)}: supported values: ${allowed.map((a) => `"${a}"`).join(', ')}`,
      field,
    );
  }
  return s as T;
}

function stringMap(v: unknown, field: string): Record<string, string> {
  const m = obj(v, field);
  return Object.fromEntries(Object.entries(m).map(([k, val]) => [k, str(val, `${field}.${k}`)]));
}

function intOrString(v: unknown, field: string): IntOrString {
  if (v === undefined || v === null) return 0;
  if (typeof v === 'string') return v;
  return int(v, field);
}

const PROTOCOLS = ['TCP', 'UDP', 'SCTP'] as const satisfies readonly Protocol[];

function metadata(doc: Json, defaultNamespace: string): ObjectMeta {
  const m = obj(doc.metadata, 'metadata');
  const name = str(m.name, 'metadata.name');
  if (name === '') throw new ManifestError('Required value: name is required', 'metadata.name');
  return {
    namespace: str(m.namespace, 'metadata.namespace') || defaultNamespace,
    name,
    uid: '',
    labels: stringMap(m.labels, 'metadata.labels'),
    annotations: stringMap(m.annotations, 'metadata.annotations'),
    resourceVersion: 0,
  };
}

function servicePort(v: unknown, field: string): ServicePort {
  const p = obj(v, field);
  return {
    name: str(p.name, `${field}.name`),
    protocol: oneOf(p.protocol, `${field}.protocol`, PROTOCOLS, 'TCP'),
    port: int(p.port, `${field}.port`),
    targetPort: intOrString(p.targetPort, `${field}.targetPort`),
    nodePort: int(p.nodePort, `${field}.nodePort`),
  };
}

function serviceFromManifest(doc: Json, namespace: string): Service {
  const spec = obj(doc.spec, 'spec');
  const affinityConfig = obj(obj(spec.sessionAffinityConfig, 'spec.sessionAffinityConfig').clientIP, 'spec.sessionAffinityConfig.clientIP');
  return {
    metadata: metadata(doc, namespace),
    spec: {
      type: oneOf(spec.type, 'spec.type', ['ClusterIP', 'NodePort', 'LoadBalancer'] as const, 'ClusterIP'),
      clusterIP: str(spec.clusterIP, 'spec.clusterIP'),
      clusterIPs: list(spec.clusterIPs, 'spec.clusterIPs').map((v, i) => str(v, `spec.clusterIPs[${i}]`)),
      ipFamilies: list(spec.ipFamilies, 'spec.ipFamilies').map((v, i) =>
        oneOf(v, `spec.ipFamilies[${i}]`, ['IPv4', 'IPv6'] as const, 'IPv4'),
      ),
      ports: list(spec.ports, 'spec.ports').map((v, i) => servicePort(v, `spec.ports[${i}]`)),
      selector: stringMap(spec.selector, 'spec.selector'),
      sessionAffinity: oneOf(spec.sessionAffinity, 'spec.sessionAffinity', ['None', 'ClientIP'] as const, 'None'),
      sessionAffinityTimeoutSeconds: int(affinityConfig.timeoutSeconds, 'spec.sessionAffinityConfig.clientIP.timeoutSeconds'),
      externalTrafficPolicy: oneOf(spec.externalTrafficPolicy, 'spec.externalTrafficPolicy', ['Cluster', 'Local'] as const, 'Cluster'),
      internalTrafficPolicy: oneOf(spec.internalTrafficPolicy, 'spec.internalTrafficPolicy', ['Cluster', 'Local'] as const, 'Cluster'),
      externalIPs: list(spec.externalIPs, 'spec.externalIPs').map((v, i) => str(v, `spec.externalIPs[${i}]`)),
      ...(spec.loadBalancerSourceRanges !== undefined
        ? { loadBalancerSourceRanges: list(spec.loadBalancerSourceRanges, 'spec.loadBalancerSourceRanges').map((v, i) => str(v, `spec.loadBalancerSourceRanges[${i}]`)) }
        : {}),
      ...(spec.allocateLoadBalancerNodePorts !== undefined ? { allocateLoadBalancerNodePorts: bool(spec.allocateLoadBalancerNodePorts, 'spec.allocateLoadBalancerNodePorts', true) } : {}),
      ...(spec.healthCheckNodePort !== undefined ? { healthCheckNodePort: int(spec.healthCheckNodePort, 'spec.healthCheckNodePort') } : {}),
    },
    ...loadBalancerStatus(doc),
  };
}

/** `status.loadBalancer.ingress` (an external load-balancer controller may set it). */
function loadBalancerStatus(doc: Json): Pick<Service, 'status'> {
  const ingress = list(obj(obj(doc.status, 'status').loadBalancer, 'status.loadBalancer').ingress, 'status.loadBalancer.ingress').map((v, i) => {
    const f = `status.loadBalancer.ingress[${i}]`;
    const e = obj(v, f);
    const hostname = str(e.hostname, `${f}.hostname`);
    return { ip: str(e.ip, `${f}.ip`), ...(hostname ? { hostname } : {}) };
  });
  return ingress.length > 0 ? { status: { loadBalancer: { ingress } } } : {};
}

function podFromManifest(doc: Json, namespace: string): Pod {
  const spec = obj(doc.spec, 'spec');
  const status = obj(doc.status, 'status');
  const containerPorts: ContainerPort[] = list(spec.containers, 'spec.containers').flatMap((c, i) =>
    list(obj(c, `spec.containers[${i}]`).ports, `spec.containers[${i}].ports`).map((v, j) => {
      const field = `spec.containers[${i}].ports[${j}]`;
      const p = obj(v, field);
      return {
        name: str(p.name, `${field}.name`),
        containerPort: int(p.containerPort, `${field}.containerPort`),
        protocol: oneOf(p.protocol, `${field}.protocol`, PROTOCOLS, 'TCP'),
      };
    }),
  );
  const podIPs = list(status.podIPs, 'status.podIPs');
  const ip = str(status.podIP, 'status.podIP') || (podIPs.length > 0 ? str(obj(podIPs[0], 'status.podIPs[0]').ip, 'status.podIPs[0].ip') : '');
  const readyCondition = list(status.conditions, 'status.conditions')
    .map((c, i) => obj(c, `status.conditions[${i}]`))
    .find((c) => c.type === 'Ready');
  const meta = metadata(doc, namespace);
  return {
    metadata: meta,
    nodeName: str(spec.nodeName, 'spec.nodeName'),
    ip,
    // svcnet has no kubelet: a registered pod without a Ready condition is taken as ready.
    ready: readyCondition ? str(readyCondition.status, 'status.conditions.status') === 'True' : true,
    containerPorts,
    terminating: obj(doc.metadata, 'metadata').deletionTimestamp !== undefined,
  };
}

function bool(v: unknown, field: string, fallback: boolean): boolean {
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'boolean') throw new ManifestError(`expected a boolean, got ${describeType(v)} ${JSON.stringify(v)}`, field);
  return v;
}

/**
 * An address's EndpointSlice conditions. svcnet's extension of Endpoints: an
 * address may carry `conditions: {ready, serving, terminating}` as an
 * EndpointSlice endpoint does, to say e.g. "serving, terminating, not ready".
 * `ready` must agree with the list the address is in (addresses = ready,
 * notReadyAddresses = not ready); serving defaults to ready, terminating to false.
 */
function conditions(v: unknown, field: string, ready: boolean): Pick<EndpointAddress, 'ready' | 'serving' | 'terminating'> {
  const c = obj(v, field);
  const said = bool(c.ready, `${field}.ready`, ready);
  if (said !== ready) {
    throw new ManifestError(`ready: ${said} contradicts the list the address is in (${ready ? 'addresses' : 'notReadyAddresses'})`, `${field}.ready`);
  }
  return { ready, serving: bool(c.serving, `${field}.serving`, ready), terminating: bool(c.terminating, `${field}.terminating`, false) };
}

function addresses(v: unknown, field: string, ready: boolean): EndpointAddress[] {
  return list(v, field).map((a, i) => {
    const f = `${field}[${i}]`;
    const addr = obj(a, f);
    const ref = addr.targetRef === undefined ? undefined : obj(addr.targetRef, `${f}.targetRef`);
    return {
      ip: str(addr.ip, `${f}.ip`),
      nodeName: str(addr.nodeName, `${f}.nodeName`),
      ...conditions(addr.conditions, `${f}.conditions`, ready),
      ...(ref
        ? {
            podRef: {
              kind: str(ref.kind, `${f}.targetRef.kind`, 'Pod'),
              namespace: str(ref.namespace, `${f}.targetRef.namespace`),
              name: str(ref.name, `${f}.targetRef.name`),
              uid: str(ref.uid, `${f}.targetRef.uid`),
            },
          }
        : {}),
    };
  });
}

function endpointsFromManifest(doc: Json, namespace: string): Endpoints {
  const subsets: EndpointSubset[] = list(doc.subsets, 'subsets').map((v, i) => {
    const f = `subsets[${i}]`;
    const s = obj(v, f);
    return {
      addresses: [...addresses(s.addresses, `${f}.addresses`, true), ...addresses(s.notReadyAddresses, `${f}.notReadyAddresses`, false)],
      ports: list(s.ports, `${f}.ports`).map((p, j) => {
        const pf = `${f}.ports[${j}]`;
        const port = obj(p, pf);
        return {
          name: str(port.name, `${pf}.name`),
          port: int(port.port, `${pf}.port`),
          protocol: oneOf(port.protocol, `${pf}.protocol`, PROTOCOLS, 'TCP'),
        };
      }),
    };
  });
  return { metadata: metadata(doc, namespace), subsets };
}

/**
 * Reads one document. `defaultNamespace` applies when the manifest names none.
 * Throws ManifestError for anything but apiVersion v1 Service/Pod/Endpoints.
 */
export function objectFromManifest(doc: unknown, defaultNamespace: string): ManifestObject {
  const d = obj(doc, '(root)');
  const apiVersion = str(d.apiVersion, 'apiVersion');
  const kind = str(d.kind, 'kind');
  if (apiVersion === '' || kind === '') {
    throw new ManifestError(`Object 'Kind' is missing or 'apiVersion' is not set`);
  }
  if (apiVersion !== 'v1' || !['Service', 'Pod', 'Endpoints'].includes(kind)) {
    throw new ManifestError(`no matches for kind "${kind}" in version "${apiVersion}"`);
  }
  if (kind === 'Service') return { kind, object: serviceFromManifest(d, defaultNamespace) };
  if (kind === 'Pod') return { kind, object: podFromManifest(d, defaultNamespace) };
  return { kind: 'Endpoints', object: endpointsFromManifest(d, defaultNamespace) };
}
