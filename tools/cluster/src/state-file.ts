import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClusterPlan } from './topology.js';

/** The proxy modes svcnet-agent offers (kept as strings: the agent validates them). */
export const ProxyModeName = { iptables: 'iptables', ipvs: 'ipvs', userspace: 'userspace', nftables: 'nftables' } as const;
export type ProxyModeName = (typeof ProxyModeName)[keyof typeof ProxyModeName];

/** Which iptables binaries agents use: `auto` lets the agent detect, like kube-proxy. */
export const IptablesVariant = { auto: 'auto', legacy: 'legacy', nft: 'nft' } as const;
export type IptablesVariant = (typeof IptablesVariant)[keyof typeof IptablesVariant];

/** A process the cluster started; identified by PID plus kernel start time so a reused PID is never killed. */
export interface ProcessRecord {
  /** `nats`, `allocator`, `state`, `agent-node1`, `pod-web`, `bridge-state`… */
  component: string;
  pid: number;
  /** Field 22 of /proc/<pid>/stat (clock ticks since boot). */
  startTime: string;
  ns: string;
  log: string;
  argv: string[];
  /** Extra environment it was started with (kept so a restart is identical). */
  env?: Record<string, string>;
}

/** A pod made by `pod add`. */
export interface PodRecord {
  name: string;
  /** The Kubernetes-style namespace the pod is registered in. */
  namespace: string;
  node: string;
  ns: string;
  ip: string;
  hostVeth: string;
  labels: Record<string, string>;
  ports: { name: string; port: number; protocol: 'TCP' | 'UDP' | 'SCTP' }[];
  ready: boolean;
  /** Whether the state service accepted it (false when no state service runs). */
  registered: boolean;
  command: string[];
}

/** How the control plane runs. */
export interface ControlPlaneSettings {
  /** nats-servers in one JetStream cluster (buckets get min(3, n) replicas). */
  natsServers: number;
  /** Per-program NATS credentials (an operator, accounts and one user per program). */
  auth: boolean;
  /** Mutual TLS for gRPC and TLS for NATS, with a CA made at `up` (`<stateDir>/pki`). */
  tls: boolean;
  stateReplicas: number;
}

/** Everything `up` made, so later commands (and `down`, even after a crash) find it. */
export interface ClusterState {
  version: 1;
  name: string;
  stateDir: string;
  repoRoot: string;
  createdAt: string;
  proxyMode: ProxyModeName;
  iptables: IptablesVariant;
  plan: ClusterPlan;
  /** Unix sockets (in stateDir) bridged by socat to the control plane's TCP ports, by component (`state`, `state-1`, `nats`). */
  sockets: Record<string, string>;
  /** Absent in state files of clusters made before these settings existed: one plain server. */
  controlPlane?: ControlPlaneSettings;
  /** Components not started, with why (e.g. a bundle not built yet). */
  skipped: string[];
  processes: ProcessRecord[];
  pods: PodRecord[];
  nextVethId: number;
  /** Set once svcnet-dns runs and kube-system/kube-dns exists: pods then get a resolv.conf. */
  dns?: { clusterIP: string; domain: string };
}

/** The default state directory of a cluster. */
export function defaultStateDir(name: string): string {
  return `/tmp/svcnet-cluster-${name}`;
}

export function stateFilePath(stateDir: string): string {
  return join(stateDir, 'cluster.json');
}

/** Reads the state file; undefined when there is none. */
export function readState(stateDir: string): ClusterState | undefined {
  const path = stateFilePath(stateDir);
  if (!existsSync(path)) return undefined;
  const parsed = JSON.parse(readFileSync(path, 'utf8')) as ClusterState;
  if (parsed.version !== 1) throw new Error(`${path}: unsupported state version ${String(parsed.version)}`);
  return parsed;
}

/** Writes the state file atomically (write + rename), so a crash never leaves half a file. */
export function writeState(state: ClusterState): void {
  mkdirSync(state.stateDir, { recursive: true });
  const path = stateFilePath(state.stateDir);
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(tmp, path);
}

/**
 * A lock is stale when its holder is gone and it is not brand new: a file just
 * created with O_EXCL may not hold its PID yet, and must not be taken over.
 */
function lockIsStale(lockPath: string): boolean {
  try {
    if (Date.now() - statSync(lockPath).mtimeMs < 2000) return false;
    const pid = Number(readFileSync(lockPath, 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 0) return true;
    process.kill(pid, 0);
    return false;
  } catch (err) {
    // ESRCH: the holder died; ENOENT: released meanwhile (retrying is right either way).
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * Runs `fn` holding `<stateDir>/cluster.lock` (O_EXCL file with the holder's PID),
 * so concurrent `svcnet-cluster pod …` processes do not lose each other's writes.
 * A lock whose holder died is taken over.
 */
export async function withStateLock<T>(stateDir: string, fn: () => Promise<T>, timeoutMs = 60_000): Promise<T> {
  mkdirSync(stateDir, { recursive: true });
  const lockPath = join(stateDir, 'cluster.lock');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      writeFileSync(lockPath, String(process.pid), { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (lockIsStale(lockPath)) rmSync(lockPath, { force: true });
      else if (Date.now() > deadline) throw new Error(`${lockPath} held by another svcnet-cluster for ${timeoutMs} ms`);
      else await new Promise((r) => setTimeout(r, 25 + Math.random() * 50));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lockPath, { force: true });
  }
}
