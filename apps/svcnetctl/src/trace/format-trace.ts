/**
 * The text of `svcnetctl trace`, in the `describe` layout.
 */
import { alignTabs, DESCRIBE_LAYOUT } from '../format/tabwriter.js';
import { formatTargetPort } from '../format/fields.js';
import type { TraceResult } from './trace.js';

function hostPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

export function formatTrace(result: TraceResult): string {
  const q = result.query;
  const dest = `${hostPort(q.ip, q.port)}/${q.protocol}`;
  if (result.kind === 'none') {
    return alignTabs(`Destination:\t${dest}\nService:\t<none> (no service IP or node port matches: not intercepted)\n`, DESCRIBE_LAYOUT);
  }
  const svc = result.service;
  const name = `${svc.metadata.namespace}/${svc.metadata.name}`;
  let out = `Destination:\t${dest}\n`;
  const { port, endpoints } = result;
  const via = { clusterIP: 'cluster IP', nodePort: 'node port', externalIP: 'external IP' }[result.via];
  out += `Service:\t${name} (${svc.spec.type}, via ${via})\n`;
  out += `Port:\t${port.name || '<unset>'} ${port.port}/${port.protocol} -> ${formatTargetPort(port.targetPort, port.port)}\n`;
  out += `Session Affinity:\t${svc.spec.sessionAffinity}${svc.spec.sessionAffinity === 'ClientIP' ? ` (${svc.spec.sessionAffinityTimeoutSeconds || 10800}s)` : ''}\n`;
  const policy = result.via === 'clusterIP'
    ? `Internal Traffic Policy:\t${svc.spec.internalTrafficPolicy}`
    : `External Traffic Policy:\t${svc.spec.externalTrafficPolicy}`;
  out += `${policy}${q.node ? ` (entering on node ${q.node})` : ''}\n`;
  const usable = endpoints.filter((e) => e.ready && e.eligible);
  const share = usable.length > 0 ? ` (each ~${Math.round(1000 / usable.length) / 10}%)` : '';
  out += `Verdict:\t${
    usable.length > 0
      ? `DNAT to one of ${usable.length} ready endpoint(s)${share}`
      : 'REJECT: no ready endpoints (kube-proxy answers with ICMP port unreachable / TCP reset)'
  }\n`;
  let text = alignTabs(out, DESCRIBE_LAYOUT);
  if (endpoints.length > 0) {
    // A separate table below, aligned on its own (the header line breaks the column block).
    const rows = endpoints.map(
      (e) =>
        `  ${hostPort(e.ip, e.port)}\t${e.ready ? (e.eligible ? 'ready' : 'ready, other node') : 'not ready'}\t${e.pod || '<none>'}\t${e.nodeName || '<none>'}\n`,
    );
    text += 'Endpoints:\n' + alignTabs(`  ENDPOINT\tSTATE\tPOD\tNODE\n${rows.join('')}`, { minWidth: 0, padding: 3 });
  }
  return text;
}
