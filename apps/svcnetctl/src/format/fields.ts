/**
 * The small cell formats kubectl uses everywhere: `<none>` for empty values,
 * `k=v,k2=v2` label sets, `80:30080/TCP` ports and `ip:port` endpoint lists.
 */
import type { Endpoints, IntOrString, Service } from '@svcnet/model';

export const NONE = '<none>';

/** Kubernetes' labels.FormatLabels: sorted `k=v` pairs, `<none>` when empty. */
export function formatLabels(labels: Readonly<Record<string, string>>): string {
  const keys = Object.keys(labels).sort();
  if (keys.length === 0) return NONE;
  return keys.map((k) => `${k}=${labels[k]}`).join(',');
}

/** The PORT(S) column: `6379/TCP`, `80:30080/TCP` with a node port, comma-joined. */
export function formatServicePorts(service: Service): string {
  const parts = service.spec.ports.map((p) =>
    p.nodePort ? `${p.port}:${p.nodePort}/${p.protocol}` : `${p.port}/${p.protocol}`,
  );
  return parts.length === 0 ? NONE : parts.join(',');
}

/** The CLUSTER-IP column (the primary IP; `None` for headless services). */
export function formatClusterIp(service: Service): string {
  return service.spec.clusterIPs[0] || service.spec.clusterIP || NONE;
}

/** kubectl's loadBalancerWidth: without `-o wide`, longer ingress lists are cut. */
const LOAD_BALANCER_WIDTH = 16;

/** kubectl's loadBalancerStatusStringer: ingress IPs (or hostnames), comma-joined. */
function loadBalancerIngress(service: Service, wide: boolean): string {
  const text = (service.status?.loadBalancer.ingress ?? []).map((i) => i.ip || i.hostname || '').filter(Boolean).join(',');
  return !wide && text.length > LOAD_BALANCER_WIDTH ? `${text.slice(0, LOAD_BALANCER_WIDTH - 3)}...` : text;
}

/**
 * The EXTERNAL-IP column, as kubectl's getServiceExternalIP: external IPs if
 * given; for LoadBalancer services the ingress IPs first, `<pending>` while
 * there are none.
 */
export function formatExternalIps(service: Service, wide = false): string {
  const external = service.spec.externalIPs;
  if (service.spec.type !== 'LoadBalancer') return external.length > 0 ? external.join(',') : NONE;
  const lb = loadBalancerIngress(service, wide);
  if (external.length > 0) return [...(lb ? lb.split(',') : []), ...external].join(',');
  return lb || '<pending>';
}

/** A target port as `describe` prints it (the number, or the named port). */
export function formatTargetPort(targetPort: IntOrString, port: number): string {
  if (targetPort === 0 || targetPort === '') return String(port);
  return String(targetPort);
}

function joinHostPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** kubectl shows at most three endpoints, then ` + N more...`. */
const MAX_SHOWN_ENDPOINTS = 3;

/**
 * kubectl's formatEndpoints: the ready addresses as `ip:port` (every port of
 * every subset, or only the ports named in `portNames`), `<none>` when empty.
 * Not-ready addresses are not listed, as kubectl lists only `subsets[].addresses`.
 */
export function formatEndpoints(endpoints: Endpoints | undefined, portNames?: ReadonlySet<string>): string {
  if (!endpoints || endpoints.subsets.length === 0) return NONE;
  const shown: string[] = [];
  let count = 0;
  for (const subset of endpoints.subsets) {
    const ready = subset.addresses.filter((a) => a.ready);
    if (subset.ports.length === 0) {
      // Headless services may have no ports: list bare IPs.
      count += ready.length;
      for (const a of ready) if (shown.length < MAX_SHOWN_ENDPOINTS) shown.push(a.ip);
      continue;
    }
    for (const port of subset.ports) {
      if (portNames && !portNames.has(port.name)) continue;
      count += ready.length;
      for (const a of ready) if (shown.length < MAX_SHOWN_ENDPOINTS) shown.push(joinHostPort(a.ip, port.port));
    }
  }
  if (shown.length === 0) return NONE;
  const text = shown.join(',');
  return count > MAX_SHOWN_ENDPOINTS ? `${text} + ${count - MAX_SHOWN_ENDPOINTS} more...` : text;
}
