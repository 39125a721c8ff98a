/**
 * `describe` output in kubectl's layout: `Key:<tab>value` lines aligned by the
 * same tabwriter settings kubectl uses (padding 2), multi-line label sets with
 * continuation lines, one Port/TargetPort/NodePort/Endpoints group per port.
 */
import type { Endpoints, Pod, Service } from '@svcnet/model';
import { formatEndpoints, formatLabels, formatTargetPort, NONE } from './fields.js';
import { alignTabs, DESCRIBE_LAYOUT } from './tabwriter.js';

/** kubectl's printLabelsMultiline: one `k=v` per line, sorted; `<none>` when empty. */
function labelLines(title: string, labels: Readonly<Record<string, string>>): string {
  const keys = Object.keys(labels).sort();
  if (keys.length === 0) return `${title}:\t${NONE}\n`;
  return keys.map((k, i) => `${i === 0 ? `${title}:` : ''}\t${k}=${labels[k]}\n`).join('');
}

/** `describe service`. `endpoints` is the service's Endpoints object, if any. */
export function describeService(service: Service, endpoints: Endpoints | undefined): string {
  const { metadata: meta, spec } = service;
  let out = '';
  out += `Name:\t${meta.name}\n`;
  out += `Namespace:\t${meta.namespace}\n`;
  out += labelLines('Labels', meta.labels);
  out += labelLines('Annotations', meta.annotations);
  out += `Selector:\t${formatLabels(spec.selector)}\n`;
  out += `Type:\t${spec.type}\n`;
  out += `IP Families:\t${spec.ipFamilies.length > 0 ? spec.ipFamilies.join(',') : NONE}\n`;
  out += `IP:\t${spec.clusterIP || NONE}\n`;
  out += `IPs:\t${spec.clusterIPs.length > 0 ? spec.clusterIPs.join(',') : NONE}\n`;
  if (spec.externalIPs.length > 0) out += `External IPs:\t${spec.externalIPs.join(',')}\n`;
  const ingress = service.status?.loadBalancer.ingress ?? [];
  if (ingress.length > 0) out += `LoadBalancer Ingress:\t${ingress.map((i) => i.ip || i.hostname).join(', ')}\n`;
  for (const p of spec.ports) {
    const name = p.name || '<unset>';
    out += `Port:\t${name}\t${p.port}/${p.protocol}\n`;
    out += `TargetPort:\t${formatTargetPort(p.targetPort, p.port)}/${p.protocol}\n`;
    if (p.nodePort) out += `NodePort:\t${name}\t${p.nodePort}/${p.protocol}\n`;
    out += `Endpoints:\t${formatEndpoints(endpoints, new Set([p.name]))}\n`;
  }
  out += `Session Affinity:\t${spec.sessionAffinity}\n`;
  // Like the API server, kubectl only shows externalTrafficPolicy for services reachable from outside.
  if (spec.type !== 'ClusterIP' || spec.externalIPs.length > 0) {
    out += `External Traffic Policy:\t${spec.externalTrafficPolicy}\n`;
  }
  if (spec.healthCheckNodePort) out += `HealthCheck NodePort:\t${spec.healthCheckNodePort}\n`;
  if (spec.loadBalancerSourceRanges?.length) out += `LoadBalancer Source Ranges:\t${spec.loadBalancerSourceRanges.join(',')}\n`;
  out += `Internal Traffic Policy:\t${spec.internalTrafficPolicy}\n`;
  return alignTabs(out, DESCRIBE_LAYOUT);
}

/** Go's time.RFC1123Z in UTC, the format of kubectl's `Start Time:`. */
export function formatRfc1123z(d: Date): string {
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const two = (n: number): string => String(n).padStart(2, '0');
  return (
    `${days[d.getUTCDay()]}, ${two(d.getUTCDate())} ${months[d.getUTCMonth()]} ${d.getUTCFullYear()} ` +
    `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000`
  );
}

/** `describe pod`. */
export function describePod(pod: Pod): string {
  const meta = pod.metadata;
  let out = '';
  out += `Name:\t${meta.name}\n`;
  out += `Namespace:\t${meta.namespace}\n`;
  out += `Node:\t${pod.nodeName || NONE}\n`;
  out += `Start Time:\t${meta.creationTimestamp ? formatRfc1123z(meta.creationTimestamp) : NONE}\n`;
  out += labelLines('Labels', meta.labels);
  out += labelLines('Annotations', meta.annotations);
  out += `Status:\t${pod.terminating ? 'Terminating' : 'Running'}\n`;
  // svcnet pods have no containers to list; their named ports are what services use.
  const ports = pod.containerPorts.map((c) => `${c.containerPort}/${c.protocol}${c.name ? ` (${c.name})` : ''}`);
  out += `Ports:\t${ports.length > 0 ? ports.join(', ') : NONE}\n`;
  out += `IP:\t${pod.ip || NONE}\n`;
  out += pod.ip ? `IPs:\n  IP:\t${pod.ip}\n` : `IPs:\t${NONE}\n`;
  out += `Conditions:\n`;
  out += `  Type\tStatus\n`;
  out += `  Ready\t${pod.ready ? 'True' : 'False'}\n`;
  return alignTabs(out, DESCRIBE_LAYOUT);
}

/** `describe endpoints`: kubectl's Subsets / Addresses / NotReadyAddresses / Ports layout. */
export function describeEndpoints(endpoints: Endpoints): string {
  const meta = endpoints.metadata;
  let out = '';
  out += `Name:\t${meta.name}\n`;
  out += `Namespace:\t${meta.namespace}\n`;
  out += labelLines('Labels', meta.labels);
  out += labelLines('Annotations', meta.annotations);
  out += `Subsets:\n`;
  for (const subset of endpoints.subsets) {
    const ready = subset.addresses.filter((a) => a.ready).map((a) => a.ip);
    const notReady = subset.addresses.filter((a) => !a.ready).map((a) => a.ip);
    out += `  Addresses:\t${ready.length > 0 ? ready.join(',') : NONE}\n`;
    out += `  NotReadyAddresses:\t${notReady.length > 0 ? notReady.join(',') : NONE}\n`;
    if (subset.ports.length > 0) {
      out += `  Ports:\n`;
      out += `    Name\tPort\tProtocol\n`;
      out += `    ----\t----\t--------\n`;
      for (const p of subset.ports) out += `    ${p.name || '<unset>'}\t${p.port}\t${p.protocol}\n`;
    }
    out += '\n';
  }
  return alignTabs(out, DESCRIBE_LAYOUT);
}
