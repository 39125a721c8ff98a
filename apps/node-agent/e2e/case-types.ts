// The shape of a data-plane table row and what it may use, apart from the table
// itself so the row files (dns-cases.ts, policy-cases.ts, ...) do not import the runner.
import type { Service } from '@svcnet/model';
import type { Cluster, ProxyModeName } from '@svcnet/cluster';
import type { ModeInspector } from './mode-inspectors.js';

/** Everything a case can use; one cluster shared by every case of a suite. */
export interface CaseContext {
  cluster: Cluster;
  mode: ProxyModeName;
  inspector: ModeInspector;
  syncPeriodMs: number;
  /** The `web` service (pods web-1 on node1, web-2 on node2), created before the cases. */
  web: Service;
  externalIp: string;
  podIp(name: string): string;
  /** The mode keeps client addresses where kube-proxy does (false for userspace: the proxy dials from the node). */
  preservesSource: boolean;
}

/** One row of the table. */
export interface DataplaneCase {
  name: string;
  /** Generous per-case timeout (ms). */
  timeoutMs?: number;
  run(ctx: CaseContext): Promise<void>;
}
