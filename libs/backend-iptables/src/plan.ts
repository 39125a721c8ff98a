import type { ServiceFragment } from './service-rules.js';

/** One table's part of a restore: what the plan writes there. */
export interface RestoreSection {
  /** Chains declared (flushed) and refilled. */
  declare: readonly string[];
  /** Rule lines per written chain (shared with the plan's chain map, not copied). */
  rules: readonly (readonly string[])[];
  /** `-D` / `-I` lines for set-like chains. */
  edits: readonly string[];
  /** Chains to declare and delete (`-X`) at the end. */
  deleteChains: readonly string[];
}

/** One `conntrack -D` the apply runs after the restore (UDP only: stale flows would keep going to a removed pod). */
export interface ConntrackDeletion {
  protocol: 'udp';
  /** Original destination (cluster or external IP). */
  origDst?: string;
  /** Original destination port (node ports). */
  origPortDst?: number;
  /** The endpoint the flow was DNATed to; absent = any (flows that were not DNATed). */
  dstNat?: string;
}

/** Tables the backend owns chains in. */
export type IptablesTable = 'nat' | 'filter';

/** A service port the renderer refused, and why (bad name, address or port). */
export interface RejectedService {
  id: string;
  reason: string;
}

/**
 * The iptables plan: the complete desired KUBE-* chains per table (for
 * describe, the packet tracer and drift checks), plus the exact
 * `iptables-restore --noflush` input that moves the kernel from the last
 * applied plan to this one.
 */
export interface IptablesPlan {
  full: boolean;
  /** Rendered against a last applied plan (so its stale chains are known without reading the kernel). */
  basedOnLast: boolean;
  /** Per service port id; reused by reference when unchanged. */
  fragments: ReadonlyMap<string, ServiceFragment>;
  /** Every desired nat chain (built on first use from fragments + shared chains). */
  readonly nat: ReadonlyMap<string, readonly string[]>;
  /** Every desired filter chain. */
  readonly filter: ReadonlyMap<string, readonly string[]>;
  /** Chains not owned by one service (KUBE-SERVICES, KUBE-NODEPORTS, masquerade, forward), per table. */
  shared: Readonly<Record<IptablesTable, ReadonlyMap<string, readonly string[]>>>;
  /** The restore input per table, before apply adds what it learnt from the kernel. */
  sections: Readonly<Record<IptablesTable, RestoreSection>>;
  /** iptables-restore input (both tables), computed on access (a full plan is ~25 MB of text). */
  readonly restore: string;
  /** Chains written (declared and refilled) by `restore`. */
  writtenChains: number;
  /** Chains `restore` deletes, as `table/chain`. */
  deletedChains: readonly string[];
  conntrack: readonly ConntrackDeletion[];
  rejected: readonly RejectedService[];
  /**
   * Localhost node ports are on: `net.ipv4.conf.all.route_localnet=1` in the
   * node's network namespace (so DNATed 127.0.0.1 traffic may leave it), set
   * once, as kube-proxy does.
   */
  routeLocalnet: boolean;
}

/** The plan as `iptables-save`-style text of the desired state (deterministic order). */
export function describePlan(plan: Pick<IptablesPlan, 'nat' | 'filter'> & Partial<Pick<IptablesPlan, 'rejected'>>): string {
  // Services the renderer refused are shown first, so the debug dump explains a missing rule.
  const out: string[] = (plan.rejected ?? []).map((r) => `# rejected ${r.id}: ${r.reason}`);
  for (const [table, chains] of [
    ['nat', plan.nat],
    ['filter', plan.filter],
  ] as const) {
    out.push(`*${table}`);
    const names = [...chains.keys()].sort();
    for (const n of names) out.push(`:${n} - [0:0]`);
    for (const n of names) out.push(...chains.get(n)!);
    out.push('COMMIT');
  }
  return out.join('\n') + '\n';
}
