/** Messages between the benchmark and its agent processes (Node IPC, JSON). */
export type ToWorker =
  | { type: 'init'; natsUrl: string; names: string[]; mode: 'fleet' | 'consumers'; minSyncMs: number; heartbeatMs: number }
  | { type: 'connect' }
  /** Start every agent now; `t0` is the parent's wall clock at the start signal. */
  | { type: 'start'; t0: number }
  /** Note when every agent of this process has programmed `revision`. */
  | { type: 'track'; revision: number }
  | { type: 'collect' }
  | { type: 'stop' };

export interface WorkerResults {
  /** Write → plan latency (ms) of every (change, agent) pair. */
  latencies: number[];
  /** Per change (by its write time): the latest agent's latency in this process. */
  perChangeMax: [number, number][];
  /** Tracked revisions: agents of this process that programmed it, and when the last did (wall ms). */
  tracked: [number, number, number][];
  planSizes: { min: number; max: number };
  cpuMs: number;
  rssMiB: number;
  syncs: number;
  /** Over every agent: bases taken beyond the first, and records fetched one by one to close gaps. */
  extraBases: number;
  gapRecords: number;
}

export type FromWorker =
  | { type: 'ready' }
  | { type: 'connected'; ms: number }
  /** Agents synced so far (sent as they come, at most every 250 ms), and the ms (since t0) of each. */
  | { type: 'synced'; times: number[] }
  | { type: 'results'; results: WorkerResults }
  | { type: 'stopped' };
