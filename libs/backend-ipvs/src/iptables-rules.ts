/**
 * The constant set of iptables rules IPVS mode needs (kube-proxy's layout):
 * the number of rules does not grow with services; ipsets carry the data.
 * Rules are written in iptables-save's canonical form so that the kernel's
 * state can be compared with them line by line (drift detection).
 */
import { parseSave, ruleTarget } from '@svcnet/backend-iptables';
import type { NodeConfig } from '@svcnet/proxy-core';
import type { IptablesRules } from './plan.js';

/** Masquerade mark, as kube-proxy's default --masquerade-bit 14. */
export const MASQ_MARK = '0x4000';

/** Chains only IPVS mode creates: always ours. */
export const IPVS_ONLY_CHAINS = { nat: ['KUBE-NODE-PORT', 'KUBE-LOAD-BALANCER'], filter: ['KUBE-IPVS-FILTER'] } as const;
/**
 * Chains iptables mode uses too (same names, as kube-proxy). IPVS cleanup removes
 * them only while they hold IPVS mode's rules (KUBE-SERVICES matches an ipset).
 */
export const SHARED_CHAINS = { nat: ['KUBE-SERVICES', 'KUBE-POSTROUTING', 'KUBE-MARK-MASQ'], filter: ['KUBE-FORWARD'] } as const;

/** Jumps from built-in chains into ours: `[table, builtin, rule after -A <builtin>]`. */
export const JUMP_RULES: ReadonlyArray<readonly ['nat' | 'filter', string, string]> = [
  ['nat', 'PREROUTING', '-m comment --comment "kubernetes service portals" -j KUBE-SERVICES'],
  ['nat', 'OUTPUT', '-m comment --comment "kubernetes service portals" -j KUBE-SERVICES'],
  ['nat', 'POSTROUTING', '-m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING'],
  ['filter', 'INPUT', '-m comment --comment "kubernetes ipvs access filter" -j KUBE-IPVS-FILTER'],
  ['filter', 'OUTPUT', '-m comment --comment "kubernetes ipvs access filter" -j KUBE-IPVS-FILTER'],
  ['filter', 'FORWARD', '-m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD'],
];

const masqFromMark = `-m mark ! --mark ${MASQ_MARK}/${MASQ_MARK} -j RETURN`;

/** The rules of our chains for one node's settings (pure). */
export function renderIptablesRules(config: NodeConfig): IptablesRules {
  const clusterMasq = config.masqueradeAll
    ? '-A KUBE-SERVICES -m comment --comment "Kubernetes service cluster ip + port for masquerade purpose" -m set --match-set KUBE-CLUSTER-IP dst,dst -j KUBE-MARK-MASQ'
    : config.clusterCIDR
      ? `-A KUBE-SERVICES ! -s ${config.clusterCIDR} -m comment --comment "Kubernetes service cluster ip + port for masquerade purpose" -m set --match-set KUBE-CLUSTER-IP dst,dst -j KUBE-MARK-MASQ`
      : undefined;
  const nodePort = (proto: 'tcp' | 'udp'): string[] => {
    const up = proto.toUpperCase();
    return [
      `-A KUBE-NODE-PORT -p ${proto} -m comment --comment "Kubernetes nodeport ${up} port with externalTrafficPolicy=local" -m set --match-set KUBE-NODE-PORT-LOCAL-${up} dst -j RETURN`,
      `-A KUBE-NODE-PORT -p ${proto} -m comment --comment "Kubernetes nodeport ${up} port for masquerade purpose" -m set --match-set KUBE-NODE-PORT-${up} dst -j KUBE-MARK-MASQ`,
    ];
  };
  const nat = [
    '-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000',
    ...nodePort('tcp'),
    ...nodePort('udp'),
    // Load-balancer IPs: masqueraded unless externalTrafficPolicy Local keeps the client's address.
    '-A KUBE-LOAD-BALANCER -m comment --comment "Kubernetes service load balancer ip + port with externalTrafficPolicy=local" -m set --match-set KUBE-LOAD-BALANCER-LOCAL dst,dst -j RETURN',
    '-A KUBE-LOAD-BALANCER -j KUBE-MARK-MASQ',
    '-A KUBE-POSTROUTING -m comment --comment "Kubernetes endpoints dst ip:port, source ip for solving hairpin purpose" -m set --match-set KUBE-LOOP-BACK dst,dst,src -j MASQUERADE',
    `-A KUBE-POSTROUTING ${masqFromMark}`,
    '-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0',
    '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully',
    ...(clusterMasq ? [clusterMasq] : []),
    '-A KUBE-SERVICES -m comment --comment "Kubernetes service external ip + port for masquerade and filter purpose" -m set --match-set KUBE-EXTERNAL-IP dst,dst -j KUBE-MARK-MASQ',
    '-A KUBE-SERVICES -m comment --comment "Kubernetes service lb portal" -m set --match-set KUBE-LOAD-BALANCER dst,dst -j KUBE-LOAD-BALANCER',
    '-A KUBE-SERVICES -m addrtype --dst-type LOCAL -j KUBE-NODE-PORT',
    '-A KUBE-SERVICES -m set --match-set KUBE-CLUSTER-IP dst,dst -j ACCEPT',
  ];
  const filter = [
    '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT',
    '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
    // The health check node ports answer whatever later rules of INPUT say (kube-proxy opens them too).
    '-A KUBE-IPVS-FILTER -p tcp -m comment --comment "Kubernetes health check node port" -m set --match-set KUBE-HEALTH-CHECK-NODE-PORT dst -j ACCEPT',
    // loadBalancerSourceRanges: a guarded load-balancer IP takes only its ranges (and, when a range holds a node IP, the node).
    '-A KUBE-IPVS-FILTER -m comment --comment "Kubernetes service load balancer ip + port for load balancer with sourceRange" -m set --match-set KUBE-LOAD-BALANCER-FW dst,dst -m set ! --match-set KUBE-LOAD-BALANCER-SOURCE-CIDR dst,dst,src -m set ! --match-set KUBE-LOAD-BALANCER-SOURCE-IP dst,dst,src -j DROP',
    // A traffic policy without an endpoint on this node drops (kube-proxy's DROP "has no local endpoints").
    '-A KUBE-IPVS-FILTER -m comment --comment "service has no local endpoints" -m set --match-set KUBE-NO-LOCAL-ENDPOINTS dst,dst -j DROP',
    // A service without endpoints refuses at once instead of timing out (kube-proxy's REJECT).
    '-A KUBE-IPVS-FILTER -m comment --comment "service has no endpoints" -m set --match-set KUBE-NO-ENDPOINTS dst,dst -j REJECT --reject-with icmp-port-unreachable',
  ];
  return { nat, filter };
}

/** Rules grouped by chain name, keeping each chain's order: the form compared for drift. */
export function byChain(lines: readonly string[]): string[] {
  const chainOf = (l: string): string => l.split(' ')[1] ?? '';
  return lines
    .map((l, i) => ({ l, i }))
    .sort((a, b) => (chainOf(a.l) < chainOf(b.l) ? -1 : chainOf(a.l) > chainOf(b.l) ? 1 : a.i - b.i))
    .map((x) => x.l);
}

/** The chains we write, per table, in a stable order. */
export function ownChains(table: 'nat' | 'filter'): string[] {
  return [...SHARED_CHAINS[table], ...IPVS_ONLY_CHAINS[table]];
}

/** What iptables-save shows of ours: our chains' rules and which jumps exist. */
export interface IptablesView {
  /** Rules of our chains, per table, in kernel order. */
  rules: IptablesRules;
  /** Chains of ours that exist, as `table:chain`. */
  chains: Set<string>;
  /** Jump rules present, as `table:builtin:rule`. */
  jumps: Set<string>;
  /** Every rule line in built-in chains that jumps to one of our chains (for cleanup). */
  jumpLines: Map<'nat' | 'filter', string[]>;
}

/** Reads `iptables-save` output (all tables) through the iptables backend's parser: what is ours. */
export function parseIptablesSave(text: string): IptablesView {
  const view: IptablesView = { rules: { nat: [], filter: [] }, chains: new Set(), jumps: new Set(), jumpLines: new Map([['nat', []], ['filter', []]]) };
  const tables = parseSave(text);
  for (const table of ['nat', 'filter'] as const) {
    const saved = tables.get(table);
    if (!saved) continue;
    const own = ownChains(table);
    for (const chain of saved.chains) if (own.includes(chain)) view.chains.add(`${table}:${chain}`);
    for (const [chain, lines] of saved.rules) {
      if (own.includes(chain)) {
        view.rules[table].push(...lines);
        continue;
      }
      for (const line of lines) {
        const target = ruleTarget(line);
        if (!target || !own.includes(target)) continue;
        view.jumpLines.get(table)!.push(line);
        view.jumps.add(`${table}:${chain}:${line.slice(`-A ${chain} `.length)}`);
      }
    }
  }
  return view;
}

/** True when IPVS mode's rules live in the shared chains (KUBE-SERVICES matches KUBE-CLUSTER-IP). */
export function sharedChainsAreIpvs(view: IptablesView): boolean {
  return view.rules.nat.some((r) => r.startsWith('-A KUBE-SERVICES ') && r.includes('--match-set KUBE-CLUSTER-IP'));
}

/**
 * One `iptables-restore --noflush` input that rewrites our chains and adds
 * missing jumps. Declaring a chain in --noflush mode flushes just that chain.
 */
export function iptablesRestoreInput(desired: IptablesRules, present: ReadonlySet<string>): string {
  const out: string[] = [];
  for (const table of ['nat', 'filter'] as const) {
    out.push(`*${table}`);
    for (const chain of ownChains(table)) out.push(`:${chain} - [0:0]`);
    out.push(...desired[table]);
    for (const [t, builtin, rule] of JUMP_RULES) {
      if (t === table && !present.has(`${t}:${builtin}:${rule}`)) out.push(`-I ${builtin} 1 ${rule}`);
    }
    out.push('COMMIT');
  }
  return out.join('\n') + '\n';
}

/** Restore input that deletes our jumps and chains; shared chains only when they are IPVS mode's. */
export function iptablesCleanupInput(view: IptablesView): string | undefined {
  const shared = sharedChainsAreIpvs(view);
  const out: string[] = [];
  let any = false;
  for (const table of ['nat', 'filter'] as const) {
    const chains = [...IPVS_ONLY_CHAINS[table], ...(shared ? SHARED_CHAINS[table] : [])].filter((c) => view.chains.has(`${table}:${c}`));
    const jumps = view.jumpLines.get(table)!.filter((l) => chains.some((c) => l.endsWith(` -j ${c}`)));
    if (chains.length === 0 && jumps.length === 0) continue;
    any = true;
    out.push(`*${table}`, ...chains.map((c) => `:${c} - [0:0]`), ...jumps.map((l) => '-D' + l.slice(2)), ...chains.map((c) => `-X ${c}`), 'COMMIT');
  }
  return any ? out.join('\n') + '\n' : undefined;
}
