import type { IptablesTable } from './plan.js';
import { Chain } from './service-rules.js';

/** A rule in a built-in chain that sends traffic into one of our chains. */
export interface JumpRule {
  table: IptablesTable;
  /** Built-in chain (PREROUTING, OUTPUT, …). */
  chain: string;
  target: string;
  /** The rule after `-A <chain> `, as kube-proxy writes it. */
  spec: string;
}

function jump(table: IptablesTable, chain: string, target: string, comment: string, newOnly = false): JumpRule {
  const ct = newOnly ? '-m conntrack --ctstate NEW ' : '';
  return { table, chain, target, spec: `${ct}${comment ? `-m comment --comment "${comment}" ` : ''}-j ${target}` };
}

/** kube-proxy's iptablesJumpChains: the only rules we add outside KUBE-* chains. */
export const JUMP_RULES: readonly JumpRule[] = [
  jump('nat', 'PREROUTING', Chain.services, 'kubernetes service portals'),
  jump('nat', 'OUTPUT', Chain.services, 'kubernetes service portals'),
  jump('nat', 'POSTROUTING', Chain.postrouting, 'kubernetes postrouting rules'),
  jump('filter', 'INPUT', Chain.externalServices, 'kubernetes externally-visible service portals', true),
  jump('filter', 'FORWARD', Chain.externalServices, 'kubernetes externally-visible service portals', true),
  jump('filter', 'INPUT', Chain.nodePorts, 'kubernetes health check service ports'),
  jump('filter', 'FORWARD', Chain.services, 'kubernetes service portals', true),
  jump('filter', 'OUTPUT', Chain.services, 'kubernetes service portals', true),
  jump('filter', 'FORWARD', Chain.forward, 'kubernetes forwarding rules'),
  jump('filter', 'INPUT', Chain.proxyFirewall, 'kubernetes load balancer firewall', true),
  jump('filter', 'OUTPUT', Chain.proxyFirewall, 'kubernetes load balancer firewall', true),
  jump('filter', 'FORWARD', Chain.proxyFirewall, 'kubernetes load balancer firewall', true),
  // kube-proxy (and kubelet) hook KUBE-FIREWALL without a comment.
  jump('filter', 'INPUT', Chain.firewall, ''),
  jump('filter', 'OUTPUT', Chain.firewall, ''),
];

/** The restore line that inserts a jump at the top of its built-in chain. */
export function jumpInsertLine(j: JumpRule): string {
  return `-I ${j.chain} 1 ${j.spec}`;
}
