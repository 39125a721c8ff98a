/**
 * Node status records: the domain type (@svcnet/model) ↔ the wire message
 * `svcnet.v1.NodeStatus`, which is also what an agent stores under its key in
 * the nodes bucket.
 */
import type { NodeStatus } from '@svcnet/model';
import * as s from './gen/svcnet/v1/state.pb.js';

const EPOCH = new Date(0);

export function nodeStatusToProto(n: NodeStatus): s.NodeStatus {
  return {
    nodeName: n.nodeName,
    nodeIps: [...n.nodeIPs],
    proxyMode: n.proxyMode,
    version: n.version,
    programmedRevision: n.programmedRevision,
    feedRevision: n.feedRevision,
    ...(n.lastSync ? { lastSyncTime: n.lastSync.at } : {}),
    lastSyncOk: n.lastSync?.ok ?? false,
    lastSyncFull: n.lastSync?.full ?? false,
    lastSyncDurationMs: n.lastSync?.durationMs ?? 0,
    lastSyncErrors: n.lastSyncErrors.map((e) => ({ time: e.at, message: e.message })),
    services: n.counts.services,
    servicePorts: n.counts.servicePorts,
    endpoints: n.counts.endpoints,
    healthy: n.healthy,
    healthReason: n.healthReason,
    feedConnected: n.feedConnected,
    heartbeatIntervalMs: n.heartbeatIntervalMs,
    startedAt: n.startedAt,
    registeredAt: n.registeredAt,
    reportedAt: n.reportedAt,
  };
}

export function nodeStatusFromProto(p: s.NodeStatus): NodeStatus {
  return {
    nodeName: p.nodeName,
    nodeIPs: [...p.nodeIps],
    proxyMode: p.proxyMode,
    version: p.version,
    programmedRevision: p.programmedRevision,
    feedRevision: p.feedRevision,
    lastSync: p.lastSyncTime
      ? { at: p.lastSyncTime, ok: p.lastSyncOk, full: p.lastSyncFull, durationMs: p.lastSyncDurationMs }
      : undefined,
    lastSyncErrors: p.lastSyncErrors.map((e) => ({ at: e.time ?? EPOCH, message: e.message })),
    counts: { services: p.services, servicePorts: p.servicePorts, endpoints: p.endpoints },
    healthy: p.healthy,
    healthReason: p.healthReason,
    feedConnected: p.feedConnected,
    heartbeatIntervalMs: p.heartbeatIntervalMs,
    startedAt: p.startedAt ?? EPOCH,
    registeredAt: p.registeredAt ?? p.startedAt ?? EPOCH,
    reportedAt: p.reportedAt ?? EPOCH,
  };
}

/** The binary codec of node records in the nodes bucket. */
export const nodeStatusCodec = {
  encode: (n: NodeStatus): Uint8Array => s.NodeStatus.encode(nodeStatusToProto(n)).finish(),
  decode: (b: Uint8Array): NodeStatus => nodeStatusFromProto(s.NodeStatus.decode(b)),
};
