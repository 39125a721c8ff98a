/**
 * Nodes in kubectl's habits: `get nodes` (NAME STATUS MODE PROGRAMMED LAG
 * AGE VERSION, `-o wide` adds what an operator debugging one node wants),
 * `describe node`, and a Node-shaped manifest for `-o json|yaml`.
 */
import { humanDuration } from './age.js';
import { NONE } from './fields.js';
import { formatRfc1123z } from './describe.js';
import { alignTabs, DESCRIBE_LAYOUT, renderTable } from './tabwriter.js';
import type { NodeInfo } from '@svcnet/client';

export interface NodeTableOptions {
  wide: boolean;
  now: Date;
}

function age(from: Date | undefined, now: Date): string {
  return from && from.getTime() > 0 ? humanDuration(now.getTime() - from.getTime()) : '<unknown>';
}

function lastSyncCell(n: NodeInfo, now: Date): string {
  const s = n.status.lastSync;
  return s ? `${age(s.at, now)} ago (${s.ok ? 'ok' : 'failed'})` : NONE;
}

interface Column {
  header: string;
  cell: (n: NodeInfo, now: Date) => string;
}

const columns: Column[] = [
  { header: 'NAME', cell: (n) => n.name },
  { header: 'STATUS', cell: (n) => n.condition },
  { header: 'MODE', cell: (n) => n.status.proxyMode || NONE },
  { header: 'PROGRAMMED', cell: (n) => String(n.programmedRevision) },
  { header: 'LAG', cell: (n) => String(n.lag) },
  { header: 'AGE', cell: (n, now) => age(n.status.registeredAt, now) },
  { header: 'VERSION', cell: (n) => n.status.version || NONE },
];
const wideColumns: Column[] = [
  { header: 'NODE-IPS', cell: (n) => n.status.nodeIPs.join(',') || NONE },
  { header: 'LAST-SYNC', cell: lastSyncCell },
  { header: 'SERVICE-PORTS', cell: (n) => String(n.status.counts.servicePorts) },
  { header: 'ENDPOINTS', cell: (n) => String(n.status.counts.endpoints) },
  { header: 'HEALTHY', cell: (n) => (n.status.healthy ? 'true' : 'false') },
];

/** `get nodes`. */
export function nodesTable(nodes: readonly NodeInfo[], options: NodeTableOptions): string {
  const cols = options.wide ? [...columns, ...wideColumns] : columns;
  return renderTable([cols.map((c) => c.header), ...nodes.map((n) => cols.map((c) => c.cell(n, options.now)))]);
}

/** `describe node`: kubectl's layout, with what the node's proxy has programmed and its last sync errors. */
export function describeNode(n: NodeInfo, now: Date): string {
  const s = n.status;
  let out = '';
  out += `Name:\t${n.name}\n`;
  out += `Addresses:\t${s.nodeIPs.length > 0 ? s.nodeIPs.map((ip) => `InternalIP: ${ip}`).join(', ') : NONE}\n`;
  out += `CreationTimestamp:\t${s.registeredAt.getTime() > 0 ? formatRfc1123z(s.registeredAt) : NONE}\n`;
  out += `Conditions:\n`;
  out += `  Type\tStatus\tLastHeartbeatTime\tReason\n`;
  out += `  ----\t------\t-----------------\t------\n`;
  const ready = n.condition === 'Ready';
  const reason = ready ? 'AgentReporting' : `NoHeartbeatFor${age(n.lastHeartbeat, now)}`;
  out += `  Ready\t${ready ? 'True' : 'False'}\t${n.lastHeartbeat ? formatRfc1123z(n.lastHeartbeat) : NONE}\t${reason}\n`;
  out += `Proxy:\n`;
  out += `  Mode:\t${s.proxyMode || NONE}\n`;
  out += `  Version:\t${s.version || NONE}\n`;
  out += `  Programmed Revision:\t${n.programmedRevision} (lag ${n.lag})\n`;
  out += `  Feed Revision:\t${s.feedRevision}\n`;
  out += `  Feed Connected:\t${s.feedConnected ? 'true' : 'false'}\n`;
  out += `  Healthy:\t${s.healthy ? 'true' : `false (${s.healthReason || 'unknown'})`}\n`;
  out += `  Programmed Objects:\t${s.counts.services} services, ${s.counts.servicePorts} service ports, ${s.counts.endpoints} endpoints\n`;
  const last = s.lastSync;
  out += `  Last Sync:\t${last ? `${formatRfc1123z(last.at)} (${last.ok ? 'succeeded' : 'failed'}, ${last.full ? 'full' : 'partial'}, ${last.durationMs.toFixed(0)}ms)` : NONE}\n`;
  out += `  Heartbeat Interval:\t${humanDuration(s.heartbeatIntervalMs)}\n`;
  out += `  Agent Started:\t${s.startedAt.getTime() > 0 ? formatRfc1123z(s.startedAt) : NONE}\n`;
  out += `Last Sync Errors:`;
  if (s.lastSyncErrors.length === 0) out += `\t${NONE}\n`;
  else {
    out += '\n';
    for (const e of s.lastSyncErrors) out += `  ${formatRfc1123z(e.at)}\t${e.message.replace(/\s+/g, ' ')}\n`;
  }
  return alignTabs(out, DESCRIBE_LAYOUT);
}

/** A Kubernetes-shaped Node for `-o json|yaml` (the proxy's report under status.proxy). */
export function nodeManifest(n: NodeInfo): Record<string, unknown> {
  const s = n.status;
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: n.name, ...(s.registeredAt.getTime() > 0 ? { creationTimestamp: s.registeredAt.toISOString() } : {}) },
    status: {
      addresses: s.nodeIPs.map((address) => ({ type: 'InternalIP', address })),
      conditions: [
        {
          type: 'Ready',
          status: n.condition === 'Ready' ? 'True' : 'False',
          ...(n.lastHeartbeat ? { lastHeartbeatTime: n.lastHeartbeat.toISOString() } : {}),
        },
      ],
      nodeInfo: { kubeProxyVersion: s.version },
      proxy: {
        mode: s.proxyMode,
        programmedRevision: n.programmedRevision,
        feedRevision: s.feedRevision,
        lag: n.lag,
        feedConnected: s.feedConnected,
        healthy: s.healthy,
        ...(s.healthReason ? { healthReason: s.healthReason } : {}),
        ...(s.lastSync
          ? { lastSync: { time: s.lastSync.at.toISOString(), result: s.lastSync.ok ? 'Succeeded' : 'Failed', full: s.lastSync.full, durationMs: s.lastSync.durationMs } }
          : {}),
        lastSyncErrors: s.lastSyncErrors.map((e) => ({ time: e.at.toISOString(), message: e.message })),
        services: s.counts.services,
        servicePorts: s.counts.servicePorts,
        endpoints: s.counts.endpoints,
        heartbeatIntervalSeconds: s.heartbeatIntervalMs / 1000,
        startedAt: s.startedAt.toISOString(),
      },
    },
  };
}
