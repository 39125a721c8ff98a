/**
 * Portal rules of the userspace mode, as kube-proxy's userspace proxier wrote
 * them: traffic to a service is redirected (pods) or DNATed (the node itself)
 * to the proxy socket that serves it. Everything here is pure text.
 */
import type { ProxyPlan } from './plan.js';

/** The chains this backend owns in the nat table. */
export const PortalChain = {
  portalsContainer: 'KUBE-PORTALS-CONTAINER',
  portalsHost: 'KUBE-PORTALS-HOST',
  nodePortContainer: 'KUBE-NODEPORT-CONTAINER',
  nodePortHost: 'KUBE-NODEPORT-HOST',
} as const;
export type PortalChain = (typeof PortalChain)[keyof typeof PortalChain];

export const PORTAL_CHAINS: readonly PortalChain[] = [
  PortalChain.nodePortContainer,
  PortalChain.nodePortHost,
  PortalChain.portalsContainer,
  PortalChain.portalsHost,
];

/**
 * Jumps from the built-in chains, written exactly as `iptables-save` prints
 * them so that presence and drift checks are plain string comparisons.
 */
export const PORTAL_JUMPS: readonly string[] = [
  `-A PREROUTING -m comment --comment "svcnet userspace portals" -j ${PortalChain.portalsContainer}`,
  `-A PREROUTING -m addrtype --dst-type LOCAL -m comment --comment "svcnet userspace node ports" -j ${PortalChain.nodePortContainer}`,
  `-A OUTPUT -m comment --comment "svcnet userspace portals" -j ${PortalChain.portalsHost}`,
  `-A OUTPUT -m addrtype --dst-type LOCAL -m comment --comment "svcnet userspace node ports" -j ${PortalChain.nodePortHost}`,
];

/** Inputs of the portal rule text. */
export interface PortalRulesInput {
  proxies: readonly ProxyPlan[];
  /** Proxy socket port per service port id; ids without one get no rules. */
  proxyPorts: ReadonlyMap<string, number>;
  /** Address the proxy sockets are bound to; `0.0.0.0` lets pods use REDIRECT. */
  bindAddress: string;
  /** Where traffic from the node itself is DNATed (a node IP: DNAT to 127.0.0.1 needs route_localnet). */
  hostPortalIP: string;
}

function isUnspecified(ip: string): boolean {
  return ip === '0.0.0.0' || ip === '::' || ip === '';
}

function quote(comment: string): string {
  return `"${comment.replace(/["\\]/g, '')}"`;
}

/** The `-A` rules of the four portal chains, in a stable order. */
export function renderPortalRuleLines(input: PortalRulesInput): string[] {
  const redirect = isUnspecified(input.bindAddress);
  const hostTarget = redirect ? input.hostPortalIP : input.bindAddress;
  const lines: string[] = [];
  for (const p of input.proxies) {
    const proxyPort = input.proxyPorts.get(p.id);
    if (proxyPort === undefined) continue;
    const proto = p.protocol.toLowerCase();
    const toContainer = redirect
      ? `-j REDIRECT --to-ports ${proxyPort}`
      : `-j DNAT --to-destination ${input.bindAddress}:${proxyPort}`;
    const toHost = `-j DNAT --to-destination ${hostTarget}:${proxyPort}`;
    const portals: Array<[string, string]> = [[p.clusterIP, `${p.id} cluster IP`]];
    for (const ip of p.externalIPs) portals.push([ip, `${p.id} external IP`]);
    for (const [ip, comment] of portals) {
      const match = `-d ${ip}/32 -p ${proto} -m comment --comment ${quote(comment)} -m ${proto} --dport ${p.port}`;
      lines.push(`-A ${PortalChain.portalsContainer} ${match} ${toContainer}`);
      lines.push(`-A ${PortalChain.portalsHost} ${match} ${toHost}`);
    }
    if (p.nodePort > 0) {
      const match = `-p ${proto} -m comment --comment ${quote(`${p.id} node port`)} -m ${proto} --dport ${p.nodePort}`;
      lines.push(`-A ${PortalChain.nodePortContainer} ${match} ${toContainer}`);
      lines.push(`-A ${PortalChain.nodePortHost} ${match} ${toHost}`);
    }
  }
  return lines;
}

/**
 * One `iptables-restore --noflush` input that rewrites all four portal chains
 * from scratch (declaring a chain flushes it) and inserts the jumps listed in
 * `missingJumps`. Rewriting everything each time means a restarted agent never
 * leaves rules pointing at ports nobody listens on.
 */
export function renderPortalRestore(ruleLines: readonly string[], missingJumps: readonly string[] = []): string {
  const out = ['*nat', ...PORTAL_CHAINS.map((c) => `:${c} - [0:0]`)];
  for (const jump of missingJumps) out.push(jump.replace(/^-A /, '-I '));
  out.push(...ruleLines, 'COMMIT', '');
  return out.join('\n');
}

/** The lines of an `iptables-save -t nat` dump that belong to this backend. */
export function ownedLines(save: string): { chains: Set<string>; jumps: string[]; rules: string[] } {
  const chains = new Set<string>();
  const jumps: string[] = [];
  const rules: string[] = [];
  const owned = new Set<string>(PORTAL_CHAINS);
  const jumpSet = new Set(PORTAL_JUMPS);
  for (const line of save.split('\n')) {
    const decl = /^:(\S+) /.exec(line);
    if (decl && owned.has(decl[1]!)) chains.add(decl[1]!);
    const rule = /^-A (\S+) /.exec(line);
    if (!rule) continue;
    if (owned.has(rule[1]!)) rules.push(line);
    else if (jumpSet.has(line)) jumps.push(line);
  }
  return { chains, jumps, rules };
}

/** A restore input that removes this backend's jumps and chains, or undefined if none exist. */
export function renderPortalCleanup(save: string): string | undefined {
  const { chains, jumps } = ownedLines(save);
  if (chains.size === 0 && jumps.length === 0) return undefined;
  const present = PORTAL_CHAINS.filter((c) => chains.has(c));
  const out = ['*nat', ...present.map((c) => `:${c} - [0:0]`)];
  for (const jump of jumps) out.push(jump.replace(/^-A /, '-D '));
  for (const c of present) out.push(`-X ${c}`);
  out.push('COMMIT', '');
  return out.join('\n');
}
