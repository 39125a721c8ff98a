/**
 * Validation of services, pods and endpoints, as Kubernetes' API server does
 * it (pkg/apis/core/validation), with its field paths and wording. Pure: the
 * state service calls these before touching the allocator or the store.
 */
import { isIP } from 'node:net';
import { ErrorCode, SvcnetError } from './errors.js';
import type { Endpoints, IntOrString, ObjectMeta, Pod, Service, ServicePort } from './types.js';
import { CLUSTER_IP_NONE } from './types.js';
import {
  annotationErrors,
  dns1035LabelErrors,
  dns1123LabelErrors,
  dns1123SubdomainErrors,
  fieldErrors as fe,
  ipInCidrs,
  IP_DETAIL,
  isValidIp,
  isValidPortNumber,
  labelErrors,
  PORT_RANGE_DETAIL,
  portNameErrors,
  specialIpErrors,
  type FieldError,
} from './validation-rules.js';
import type { ObjectKind } from './types.js';

const PROTOCOLS = ['SCTP', 'TCP', 'UDP'];
const MAX_AFFINITY_TIMEOUT = 86400;
const MAX_REPORTED_ERRORS = 10;

/** A name as it is echoed in a message: cut like any other echoed value. */
function shortName(name: string): string {
  return name.length <= 253 ? name : `${name.slice(0, 63)}...(${name.length} characters)`;
}

/**
 * One SvcnetError for all the problems of an object, worded like
 * `The Service "web" is invalid: spec.ports[0].port: Invalid value: 0: …`;
 * `field` is the first offending field.
 */
export function invalidObjectError(kind: string, name: string, errors: FieldError[]): SvcnetError {
  // A refusal stays small whatever was sent: the first errors, then a count.
  const shown = errors.slice(0, MAX_REPORTED_ERRORS).map((e) => `${e.field}: ${e.message}`);
  if (errors.length > MAX_REPORTED_ERRORS) shown.push(`and ${errors.length - MAX_REPORTED_ERRORS} more errors`);
  const err = new SvcnetError(ErrorCode.InvalidArgument, `${kind} "${shortName(name)}" is invalid: ${shown.join('; ')}`);
  return Object.assign(err, { field: errors[0]?.field });
}

function throwIfAny(kind: string, name: string, errors: FieldError[]): void {
  if (errors.length > 0) throw invalidObjectError(kind, name, errors);
}

function metaErrors(meta: ObjectMeta, nameRule: (v: string) => string[]): FieldError[] {
  const out: FieldError[] = [];
  if (!meta.name) out.push(fe.required('metadata.name', 'name or generateName is required'));
  else for (const d of nameRule(meta.name)) out.push(fe.invalid('metadata.name', meta.name, d));
  if (!meta.namespace) out.push(fe.required('metadata.namespace'));
  else for (const d of dns1123LabelErrors(meta.namespace)) out.push(fe.invalid('metadata.namespace', meta.namespace, d));
  out.push(...labelErrors(meta.labels, 'metadata.labels'));
  out.push(...annotationErrors(meta.annotations, 'metadata.annotations'));
  return out;
}

/** The name rule of each kind (Kubernetes: services DNS-1035, pods and endpoints as here). */
const NAME_RULES: Record<ObjectKind, (v: string) => string[]> = {
  Service: dns1035LabelErrors,
  Pod: dns1123LabelErrors,
  Endpoints: dns1035LabelErrors,
};

/**
 * Checks the namespace and name a get or delete addresses, with the same rules
 * as a create: a request for a name no object can have is refused before it
 * reaches the store (and cannot make an oversized or wildcard NATS subject).
 */
export function validateObjectKey(kind: ObjectKind, namespace: string, name: string): void {
  const out: FieldError[] = [];
  if (!name) out.push(fe.required('metadata.name', 'name is required'));
  else for (const d of NAME_RULES[kind](name)) out.push(fe.invalid('metadata.name', name, d));
  out.push(...namespaceErrors(namespace));
  throwIfAny(kind, name, out);
}

/** A namespace filter of a list or watch: empty (all or default) or a DNS-1123 label. */
export function validateNamespaceFilter(namespace: string): void {
  const out = namespace ? namespaceErrors(namespace) : [];
  if (out.length > 0) throw invalidObjectError('Namespace', namespace, out);
}

function namespaceErrors(namespace: string): FieldError[] {
  return namespace ? dns1123LabelErrors(namespace).map((d) => fe.invalid('metadata.namespace', namespace, d)) : [];
}

function protocolErrors(protocol: string, field: string): FieldError[] {
  if (!protocol) return [fe.required(field)];
  return PROTOCOLS.includes(protocol) ? [] : [fe.unsupported(field, protocol, PROTOCOLS)];
}

function targetPortErrors(target: IntOrString, field: string): FieldError[] {
  if (typeof target === 'number') {
    if (target === 0) return []; // defaults to port
    return isValidPortNumber(target) ? [] : [fe.invalid(field, target, PORT_RANGE_DETAIL)];
  }
  return portNameErrors(target).map((d) => fe.invalid(field, target, d));
}

function servicePortErrors(svc: Service, p: ServicePort, i: number): FieldError[] {
  const path = `spec.ports[${i}]`;
  const out: FieldError[] = [];
  const multi = svc.spec.ports.length > 1;
  if (multi && !p.name) out.push(fe.required(`${path}.name`));
  if (p.name) for (const d of dns1123LabelErrors(p.name)) out.push(fe.invalid(`${path}.name`, p.name, d));
  out.push(...protocolErrors(p.protocol, `${path}.protocol`));
  if (!isValidPortNumber(p.port)) out.push(fe.invalid(`${path}.port`, p.port, PORT_RANGE_DETAIL));
  out.push(...targetPortErrors(p.targetPort, `${path}.targetPort`));
  if (p.nodePort !== 0) {
    if (svc.spec.type !== 'NodePort' && svc.spec.type !== 'LoadBalancer') {
      out.push(fe.forbidden(`${path}.nodePort`, `may not be used when \`type\` is '${svc.spec.type}'`));
    } else if (!isValidPortNumber(p.nodePort)) {
      out.push(fe.invalid(`${path}.nodePort`, p.nodePort, PORT_RANGE_DETAIL));
    }
  }
  return out;
}

function clusterIpErrors(svc: Service): FieldError[] {
  const { clusterIP, clusterIPs, type } = svc.spec;
  const out: FieldError[] = [];
  if (clusterIPs.length > 0 && clusterIP && clusterIPs[0] !== clusterIP) {
    out.push(fe.invalid('spec.clusterIPs', clusterIPs, 'element [0] must match clusterIP'));
  }
  const ips = clusterIPs.length > 0 ? clusterIPs : clusterIP ? [clusterIP] : [];
  if (ips.length > 2) out.push(fe.invalid('spec.clusterIPs', ips, 'may only hold up to 2 values'));
  if (ips.length === 2 && isValidIp(ips[0]!) && isValidIp(ips[1]!) && isIP(ips[0]!) === isIP(ips[1]!)) {
    out.push(fe.invalid('spec.clusterIPs', ips, 'may specify no more than one IP for each IP family'));
  }
  const families = svc.spec.ipFamilies;
  if (families.length > 2) out.push(fe.invalid('spec.ipFamilies', families, 'may only hold up to 2 values'));
  if (families.length === 2 && families[0] === families[1]) out.push(fe.duplicate('spec.ipFamilies[1]', families[1]));
  ips.forEach((ip, i) => {
    const family = isIP(ip) === 4 ? 'IPv4' : isIP(ip) === 6 ? 'IPv6' : undefined;
    if (family && families[i] && families[i] !== family) {
      out.push(fe.invalid(`spec.ipFamilies[${i}]`, families[i], `does not match spec.clusterIPs[${i}] (${family})`));
    }
  });
  ips.forEach((ip, i) => {
    const field = clusterIPs.length > 0 ? `spec.clusterIPs[${i}]` : 'spec.clusterIP';
    if (ip === CLUSTER_IP_NONE) {
      if (i > 0 || ips.length > 1) out.push(fe.invalid(field, ip, "'None' must be the first and only value"));
      if (type === 'NodePort' || type === 'LoadBalancer') out.push(fe.invalid(field, ip, `may not be set to 'None' for ${type} services`));
    } else if (!isValidIp(ip)) {
      out.push(fe.invalid(field, ip, IP_DETAIL));
    }
  });
  return out;
}

/** Validates a service as submitted (create or update). Throws INVALID_ARGUMENT. */
export function validateService(svc: Service): void {
  const out = metaErrors(svc.metadata, dns1035LabelErrors);
  const spec = svc.spec;
  if (spec.type !== 'ClusterIP' && spec.type !== 'NodePort' && spec.type !== 'LoadBalancer') {
    out.push(fe.unsupported('spec.type', spec.type, ['ClusterIP', 'LoadBalancer', 'NodePort']));
  }
  out.push(...clusterIpErrors(svc));
  const headless = spec.clusterIP === CLUSTER_IP_NONE || spec.clusterIPs[0] === CLUSTER_IP_NONE;
  if (spec.ports.length === 0 && !headless) out.push(fe.required('spec.ports'));
  const names = new Set<string>();
  const portProtos = new Set<string>();
  const nodePorts = new Set<string>();
  spec.ports.forEach((p, i) => {
    out.push(...servicePortErrors(svc, p, i));
    if (p.name) {
      if (names.has(p.name)) out.push(fe.duplicate(`spec.ports[${i}].name`, p.name));
      names.add(p.name);
    }
    const pp = `${p.port}/${p.protocol}`;
    if (portProtos.has(pp)) out.push(fe.duplicate(`spec.ports[${i}]`, pp));
    portProtos.add(pp);
    if (p.nodePort) {
      const np = `${p.nodePort}/${p.protocol}`;
      if (nodePorts.has(np)) out.push(fe.duplicate(`spec.ports[${i}].nodePort`, p.nodePort));
      nodePorts.add(np);
    }
  });
  out.push(...labelErrors(spec.selector, 'spec.selector'));
  if (spec.sessionAffinity !== 'None' && spec.sessionAffinity !== 'ClientIP') {
    out.push(fe.unsupported('spec.sessionAffinity', spec.sessionAffinity, ['ClientIP', 'None']));
  }
  const timeout = spec.sessionAffinityTimeoutSeconds;
  if (spec.sessionAffinity === 'ClientIP' && timeout !== 0 && !(timeout > 0 && timeout <= MAX_AFFINITY_TIMEOUT)) {
    out.push(
      fe.invalid(
        'spec.sessionAffinityConfig.clientIP.timeoutSeconds',
        timeout,
        `must be greater than 0 and less than ${MAX_AFFINITY_TIMEOUT}`,
      ),
    );
  }
  if (spec.sessionAffinity === 'None' && timeout !== 0) {
    out.push(fe.invalid('spec.sessionAffinityConfig', timeout, "must not be set when session affinity is None"));
  }
  if (spec.externalTrafficPolicy === 'Local' && spec.type !== 'NodePort' && spec.type !== 'LoadBalancer') {
    out.push(
      fe.invalid('spec.externalTrafficPolicy', 'Local', "may only be set when `type` is 'NodePort' or 'LoadBalancer'"),
    );
  }
  out.push(...loadBalancerErrors(svc));
  spec.externalIPs.forEach((ip, i) => {
    if (!isValidIp(ip)) out.push(fe.invalid(`spec.externalIPs[${i}]`, ip, IP_DETAIL));
    for (const d of specialIpErrors(ip)) out.push(fe.invalid(`spec.externalIPs[${i}]`, ip, d));
  });
  throwIfAny('Service', svc.metadata.name, out);
}

/** The LoadBalancer-only fields and the load-balancer status, as the apiserver checks them. */
function loadBalancerErrors(svc: Service): FieldError[] {
  const { spec } = svc;
  const out: FieldError[] = [];
  const lb = spec.type === 'LoadBalancer';
  const ranges = spec.loadBalancerSourceRanges ?? [];
  if (ranges.length > 0 && !lb) out.push(fe.forbidden('spec.loadBalancerSourceRanges', "may only be used when `type` is 'LoadBalancer'"));
  ranges.forEach((r, i) => {
    if (!isValidCidr(r)) out.push(fe.invalid(`spec.loadBalancerSourceRanges[${i}]`, r, 'must be a valid CIDR, e.g. 192.0.2.0/24'));
  });
  if (spec.allocateLoadBalancerNodePorts === false && !lb) {
    out.push(fe.forbidden('spec.allocateLoadBalancerNodePorts', "may only be used when `type` is 'LoadBalancer'"));
  }
  const hc = spec.healthCheckNodePort ?? 0;
  if (hc !== 0) {
    if (!lb || spec.externalTrafficPolicy !== 'Local') {
      out.push(fe.invalid('spec.healthCheckNodePort', hc, "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"));
    } else if (!isValidPortNumber(hc)) {
      out.push(fe.invalid('spec.healthCheckNodePort', hc, PORT_RANGE_DETAIL));
    }
  }
  (svc.status?.loadBalancer.ingress ?? []).forEach((ing, i) => {
    const field = `status.loadBalancer.ingress[${i}].ip`;
    if (!lb) out.push(fe.forbidden(`status.loadBalancer.ingress[${i}]`, "may only be set when `type` is 'LoadBalancer'"));
    if (ing.ip === '' && !ing.hostname) out.push(fe.required(field, 'must specify an ip or a hostname'));
    else if (ing.ip !== '' && !isValidIp(ing.ip)) out.push(fe.invalid(field, ing.ip, IP_DETAIL));
    else if (ing.ip !== '') for (const d of specialIpErrors(ing.ip)) out.push(fe.invalid(field, ing.ip, d));
    if (ing.hostname) for (const d of dns1123SubdomainErrors(ing.hostname)) out.push(fe.invalid(`status.loadBalancer.ingress[${i}].hostname`, ing.hostname, d));
  });
  return out;
}

function isValidCidr(text: string): boolean {
  const [ip, bits, extra] = text.split('/');
  if (extra !== undefined || !ip || bits === undefined || !/^\d{1,3}$/.test(bits)) return false;
  const family = isIP(ip);
  return family !== 0 && Number(bits) <= (family === 4 ? 32 : 128);
}

/** Checks what may not change on update (after defaulting the new object from the old). */
export function validateServiceUpdate(old: Service, updated: Service): void {
  const out: FieldError[] = [];
  if (old.metadata.uid && updated.metadata.uid && old.metadata.uid !== updated.metadata.uid) {
    out.push(fe.invalid('metadata.uid', updated.metadata.uid, 'field is immutable'));
  }
  if (updated.spec.clusterIP !== old.spec.clusterIP) {
    out.push(fe.invalid('spec.clusterIP', updated.spec.clusterIP, 'field is immutable'));
  } else if (updated.spec.clusterIPs.join(',') !== old.spec.clusterIPs.join(',')) {
    out.push(fe.invalid('spec.clusterIPs', updated.spec.clusterIPs, 'field is immutable'));
  }
  throwIfAny('Service', updated.metadata.name, out);
}

export interface PodValidationOptions {
  /** Comma-separated pod network CIDRs; the pod IP must lie inside one. */
  podCidr?: string;
}

/** Validates a pod registration. Throws INVALID_ARGUMENT. */
export function validatePod(pod: Pod, options: PodValidationOptions = {}): void {
  const out = metaErrors(pod.metadata, dns1123LabelErrors);
  if (!pod.nodeName) out.push(fe.required('spec.nodeName'));
  else for (const d of dns1123SubdomainErrors(pod.nodeName)) out.push(fe.invalid('spec.nodeName', pod.nodeName, d));
  if (!pod.ip) out.push(fe.required('status.podIP'));
  else if (!isValidIp(pod.ip)) out.push(fe.invalid('status.podIP', pod.ip, IP_DETAIL));
  else if (specialIpErrors(pod.ip).length > 0) for (const d of specialIpErrors(pod.ip)) out.push(fe.invalid('status.podIP', pod.ip, d));
  else if (options.podCidr && !ipInCidrs(pod.ip, options.podCidr)) {
    out.push(fe.invalid('status.podIP', pod.ip, `must be inside the pod network ${options.podCidr}`));
  }
  const names = new Set<string>();
  const ports = new Set<string>();
  pod.containerPorts.forEach((c, i) => {
    const path = `spec.containers[0].ports[${i}]`;
    if (c.name) {
      for (const d of portNameErrors(c.name)) out.push(fe.invalid(`${path}.name`, c.name, d));
      if (names.has(c.name)) out.push(fe.duplicate(`${path}.name`, c.name));
      names.add(c.name);
    }
    if (!isValidPortNumber(c.containerPort)) out.push(fe.invalid(`${path}.containerPort`, c.containerPort, PORT_RANGE_DETAIL));
    out.push(...protocolErrors(c.protocol, `${path}.protocol`));
    const key = `${c.containerPort}/${c.protocol}`;
    if (ports.has(key)) out.push(fe.duplicate(`${path}`, key));
    ports.add(key);
  });
  throwIfAny('Pod', pod.metadata.name, out);
}

/** Validates user-managed endpoints (for selector-less services). Throws INVALID_ARGUMENT. */
export function validateEndpoints(ep: Endpoints): void {
  const out = metaErrors(ep.metadata, dns1035LabelErrors);
  ep.subsets.forEach((s, si) => {
    const base = `subsets[${si}]`;
    s.addresses.forEach((a, ai) => {
      const path = `${base}.addresses[${ai}]`;
      if (!a.ip) out.push(fe.required(`${path}.ip`));
      else if (!isValidIp(a.ip)) out.push(fe.invalid(`${path}.ip`, a.ip, IP_DETAIL));
      else for (const d of specialIpErrors(a.ip)) out.push(fe.invalid(`${path}.ip`, a.ip, d));
      if (a.nodeName) for (const d of dns1123SubdomainErrors(a.nodeName)) out.push(fe.invalid(`${path}.nodeName`, a.nodeName, d));
    });
    const names = new Set<string>();
    s.ports.forEach((p, pi) => {
      const path = `${base}.ports[${pi}]`;
      if (s.ports.length > 1 && !p.name) out.push(fe.required(`${path}.name`));
      if (p.name) {
        for (const d of dns1123LabelErrors(p.name)) out.push(fe.invalid(`${path}.name`, p.name, d));
        if (names.has(p.name)) out.push(fe.duplicate(`${path}.name`, p.name));
        names.add(p.name);
      }
      if (!isValidPortNumber(p.port)) out.push(fe.invalid(`${path}.port`, p.port, PORT_RANGE_DETAIL));
      out.push(...protocolErrors(p.protocol, `${path}.protocol`));
    });
  });
  throwIfAny('Endpoints', ep.metadata.name, out);
}
