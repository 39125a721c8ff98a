/**
 * Validation of services, pods and endpoints, as Kubernetes' API server does
 * it (pkg/apis/core/validation), with its field paths and wording. Pure: the
 * state service calls these before touching the allocator or the store.
 */
import { ErrorCode, SvcnetError } from './errors.js';
import type { Endpoints, IntOrString, ObjectMeta, Pod, Service, ServicePort } from './types.js';
import { CLUSTER_IP_NONE } from './types.js';
import {
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
  type FieldError,
} from './validation-rules.js';

const PROTOCOLS = ['SCTP', 'TCP', 'UDP'];
const MAX_AFFINITY_TIMEOUT = 86400;

/**
 * One SvcnetError for all the problems of an object, worded like
 * `The Service "web" is invalid: spec.ports[0].port: Invalid value: 0: …`;
 * `field` is the first offending field.
 */
export function invalidObjectError(kind: string, name: string, errors: FieldError[]): SvcnetError {
  const details = errors.map((e) => `${e.field}: ${e.message}`).join('; ');
  const err = new SvcnetError(ErrorCode.InvalidArgument, `${kind} "${name}" is invalid: ${details}`);
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
  return out;
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
    if (svc.spec.type !== 'NodePort') {
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
  ips.forEach((ip, i) => {
    const field = clusterIPs.length > 0 ? `spec.clusterIPs[${i}]` : 'spec.clusterIP';
    if (ip === CLUSTER_IP_NONE) {
      if (i > 0 || ips.length > 1) out.push(fe.invalid(field, ip, "'None' must be the first and only value"));
      if (type === 'NodePort') out.push(fe.invalid(field, ip, "may not be set to 'None' for NodePort services"));
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
  if (spec.type !== 'ClusterIP' && spec.type !== 'NodePort') {
    out.push(fe.unsupported('spec.type', spec.type, ['ClusterIP', 'NodePort']));
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
  if (spec.externalTrafficPolicy === 'Local' && spec.type !== 'NodePort') {
    out.push(
      fe.invalid('spec.externalTrafficPolicy', 'Local', "may only be set when `type` is 'NodePort' or 'LoadBalancer'"),
    );
  }
  spec.externalIPs.forEach((ip, i) => {
    if (!isValidIp(ip)) out.push(fe.invalid(`spec.externalIPs[${i}]`, ip, IP_DETAIL));
  });
  throwIfAny('Service', svc.metadata.name, out);
}

/** Checks what may not change on update (after defaulting the new object from the old). */
export function validateServiceUpdate(old: Service, updated: Service): void {
  const out: FieldError[] = [];
  if (old.metadata.uid && updated.metadata.uid && old.metadata.uid !== updated.metadata.uid) {
    out.push(fe.invalid('metadata.uid', updated.metadata.uid, 'field is immutable'));
  }
  if (updated.spec.clusterIP !== old.spec.clusterIP) {
    out.push(fe.invalid('spec.clusterIP', updated.spec.clusterIP, 'field is immutable'));
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
