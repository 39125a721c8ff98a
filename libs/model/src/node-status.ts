import { dns1123SubdomainErrors } from './validation-rules.js';
import { invalidField } from './errors.js';

/** JetStream KV bucket where every node agent reports itself: key = node name. */
export const NODES_BUCKET = 'svcnet-nodes';

/** JetStream KV bucket holding the change feed's shared snapshots (written by the state service). */
export const FEED_BUCKET = 'svcnet-feed';

/** Heartbeats a node may miss before it counts as NotReady (the kubelet's node-monitor grace, in beats). */
export const MISSED_HEARTBEATS_NOT_READY = 3;

/** A node's condition as `svcnetctl get nodes` shows it. */
export const NodeCondition = { Ready: 'Ready', NotReady: 'NotReady' } as const;
export type NodeCondition = (typeof NodeCondition)[keyof typeof NodeCondition];

/** One failed sync, as the agent remembers it. */
export interface NodeSyncError {
  at: Date;
  message: string;
}

/** What the agent programmed at its last successful sync (the objects behind its rules). */
export interface NodeRuleCounts {
  services: number;
  servicePorts: number;
  endpoints: number;
}

/** The outcome of the agent's last sync attempt. */
export interface NodeLastSync {
  at: Date;
  ok: boolean;
  full: boolean;
  durationMs: number;
}

/**
 * What a node agent reports about itself in the nodes bucket (its own key
 * only). Revisions are the state bucket's: `programmedRevision` means every
 * change up to it is in the node's kernel.
 */
export interface NodeStatus {
  nodeName: string;
  nodeIPs: string[];
  proxyMode: string;
  version: string;
  /** Every change of the state bucket up to this revision is programmed on the node. */
  programmedRevision: number;
  /** The highest revision the agent has received (it may not be programmed yet). */
  feedRevision: number;
  lastSync: NodeLastSync | undefined;
  /** The most recent failures, newest first (a few at most). */
  lastSyncErrors: NodeSyncError[];
  counts: NodeRuleCounts;
  /** The agent's /healthz verdict. */
  healthy: boolean;
  healthReason: string;
  feedConnected: boolean;
  /** How often the agent reports; readers derive NotReady from it. */
  heartbeatIntervalMs: number;
  /** When this agent process started. */
  startedAt: Date;
  /** When the node first reported (kept across agent restarts). */
  registeredAt: Date;
  /** The agent's clock when it wrote this record. */
  reportedAt: Date;
}

/** Node names are Kubernetes node names (RFC 1123 subdomains): they become a NATS subject token path. */
export function validateNodeName(name: string, field = 'node-name'): void {
  const errs = dns1123SubdomainErrors(name);
  if (errs.length > 0) throw invalidField(field, name, errs.join('; '));
}

/**
 * Ready while the last heartbeat is at most {@link MISSED_HEARTBEATS_NOT_READY}
 * intervals old, as the node lifecycle controller judges a kubelet's lease.
 * `heardAt` is when the record was stored (the NATS server's clock).
 */
export function nodeCondition(p: { heartbeatIntervalMs: number; heardAt: Date; now: Date }): NodeCondition {
  const interval = Math.max(1, p.heartbeatIntervalMs);
  return p.now.getTime() - p.heardAt.getTime() > MISSED_HEARTBEATS_NOT_READY * interval ? NodeCondition.NotReady : NodeCondition.Ready;
}
