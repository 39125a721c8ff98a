/**
 * Nodes as svcnetctl shows them: an agent's own report plus what the state
 * service judges (condition, freshest programmed revision, lag).
 */
import type { NodeCondition, NodeStatus } from '@svcnet/model';

export interface NodeInfo {
  name: string;
  condition: NodeCondition;
  /** When its last report was stored. */
  lastHeartbeat: Date | undefined;
  programmedRevision: number;
  /** Revisions of the state not programmed yet. */
  lag: number;
  status: NodeStatus;
}

export interface NodeListResult {
  items: NodeInfo[];
  /** The state's revision the lags are measured against. */
  revision: number;
}

/** A node and the revision it has programmed. */
export interface NodeProgress {
  name: string;
  programmedRevision: number;
}

/** WaitProgrammed's answer. */
export interface ProgrammedResult {
  programmed: boolean;
  revision: number;
  programmedNodes: NodeProgress[];
  pendingNodes: NodeProgress[];
  notReadyNodes: NodeProgress[];
}

export interface WaitProgrammedQuery {
  /** A service (its last change and its endpoints'), or '' for a revision only. */
  namespace: string;
  name: string;
  revision: number;
  timeoutMs: number;
}
