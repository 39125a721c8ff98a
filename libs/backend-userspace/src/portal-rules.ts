/**
 * Portal rules of the userspace mode, as kube-proxy's userspace proxier wrote
 * them: traffic to a service is redirected (pods) or DNATed (the node itself)
 * to the proxy socket that serves it. A service port without endpoints gets a
 * REJECT instead, so clients are refused at once (as in iptables mode) rather
 * than accepted and closed. Everything here is pure text.
 */
import { parseSave } from '@svcnet/backend-iptables';
import { localSocketId, type ProxyPlan } from './plan.js';

/** The chains this backend owns (nat, plus one in filter). */
export const PortalChain = {
  portalsContainer: 'KUBE-PORTALS-CONTAINER',
  portalsHost: 'KUBE-PORTALS-HOST',
  nodePortContainer: 'KUBE-NODEPORT-CONTAINER',
  nodePortHost: 'KUBE-NODEPORT-HOST',
  reject: 'KUBE-PORTALS-REJECT',
} as const;
export type PortalChain = (typeof PortalChain)[keyof typeof PortalChain];

export type PortalTable = 'nat' | 'filter';

/** One rule line of one table, as `iptables-save` prints it. */
export interface TableLine {
  table: PortalTable;
  line: string;
}

export const PORTAL_CHAINS: Readonly<Record<PortalTable, readonly PortalChain[]>> = {
  nat: [PortalChain.nodePortContainer, PortalChain.nodePortHost, PortalChain.portalsContainer, PortalChain.portalsHost],
  filter: [PortalChain.reject],
};

const TABLES: readonly PortalTable[] = ['nat', 'filter'];

/**
 * Jumps from the built-in chains, written exactly as `iptables-save` prints
 * them so that presence and drift checks are plain string comparisons.
 */
export const PORTAL_JUMPS: readonly TableLine[] = [
  { table: 'nat', line: `-A PREROUTING -m comment --comment "svcnet userspace portals" -j ${PortalChain.portalsContainer}` },
  { table: 'nat', line: `-A PREROUTING -m addrtype --dst-type LOCAL -m comment --comment "svcnet userspace node ports" -j ${PortalChain.nodePortContainer}` },
  { table: 'nat', line: `-A OUTPUT -m comment --comment "svcnet userspace portals" -j ${PortalChain.portalsHost}` },
  { table: 'nat', line: `-A OUTPUT -m addrtype --dst-type LOCAL -m comment --comment "svcnet userspace node ports" -j ${PortalChain.nodePortHost}` },
  { table: 'filter', line: `-A INPUT -m comment --comment "svcnet userspace reject" -j ${PortalChain.reject}` },
  { table: 'filter', line: `-A FORWARD -m comment --comment "svcnet userspace reject" -j ${PortalChain.reject}` },
  { table: 'filter', line: `-A OUTPUT -m comment --comment "svcnet userspace reject" -j ${PortalChain.reject}` },
];

/** `nat -A …` keys, for comparing sets of table lines. */
export function lineKey(l: TableLine): string {
  return `${l.table} ${l.line}`;
}

/** Inputs of the portal rule text. */
export interface PortalRulesInput {
  proxies: readonly ProxyPlan[];
  /** Proxy socket port per service port id; ids without one get no rules. */
  proxyPorts: ReadonlyMap<string, number>;
  /** Address the proxy sockets are bound to; `0.0.0.0` lets pods use REDIRECT. */
  bindAddress: string;
  /** Where traffic from the node itself is DNATed (a node IP: DNAT to 127.0.0.1 needs route_localnet). */
  hostPortalIP: string;
  /** Canonical IPv4 CIDRs node ports are restricted to (kube-proxy --nodeport-addresses); empty = every local address. */
  nodePortAddresses?: readonly string[];
  /** Pods' network (canonical): exempt from externalTrafficPolicy Local. '' or unset = unknown. */
  clusterCIDR?: string;
  /** The node's IPv4 addresses (a load-balancer source range holding one admits the node). */
  nodeIPs?: readonly string[];
}

/** `-d <cidr> ` per --nodeport-addresses CIDR, or one empty prefix for "every local address". */
function nodePortDestinations(input: PortalRulesInput): string[] {
  const cidrs = input.nodePortAddresses ?? [];
  return cidrs.length === 0 ? [''] : cidrs.map((c) => `-d ${c} `);
}

function isUnspecified(ip: string): boolean {
  return ip === '0.0.0.0' || ip === '::' || ip === '';
}

function quote(comment: string): string {
  return `"${comment.replace(/["\\]/g, '')}"`;
}

function rejectLines(p: ProxyPlan, proto: string, nodePortDsts: readonly string[]): TableLine[] {
  const out: TableLine[] = [];
  const comment = quote(`${p.id} has no endpoints`);
  // A TCP reset is refused at once wherever the client is; the ICMP error of a
  // REJECT in FORWARD did not reach pods on the bridge in tests (timeouts).
  const target = proto === 'tcp' ? '-j REJECT --reject-with tcp-reset' : '-j REJECT --reject-with icmp-port-unreachable';
  for (const ip of [p.clusterIP, ...p.externalIPs, ...(p.loadBalancerIPs ?? [])]) {
    out.push({ table: 'filter', line: `-A ${PortalChain.reject} -d ${ip}/32 -p ${proto} -m comment --comment ${comment} -m ${proto} --dport ${p.port} ${target}` });
  }
  if (p.nodePort > 0) {
    for (const dst of nodePortDsts) {
      out.push({
        table: 'filter',
        line: `-A ${PortalChain.reject} ${dst}-p ${proto} -m addrtype --dst-type LOCAL -m comment --comment ${comment} -m ${proto} --dport ${p.nodePort} ${target}`,
      });
    }
  }
  return out;
}

function inCidr(ip: string, cidr: string): boolean {
  const [net = '', bitsText = '32'] = cidr.split('/');
  const bits = Number(bitsText);
  const toU32 = (a: string) => a.split('.').reduce((n, o) => ((n << 8) | Number(o)) >>> 0, 0);
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return ((toU32(ip) & mask) >>> 0) === ((toU32(net) & mask) >>> 0);
}

/** A destination of a service port: `-d <ip>/32` + port, or a node port (`<dst>-p … --dport <nodePort>` per --nodeport-addresses). */
interface Destination {
  chains: { container: string; host: string };
  /** The match after `-A <chain> ` (with an optional `-s` put in front by the caller). */
  match: string;
  /** The same destination in the filter chain (what no portal took). */
  filterMatch: string;
}

/**
 * The rules of the portal chains (nat) and the reject chain (filter), in a
 * stable order, with kube-proxy's traffic policies: a cluster IP goes to the
 * internal policy's socket; external IPs, load-balancer IPs and node ports to
 * the Cluster policy's, or with externalTrafficPolicy Local to the Local
 * policy's for outside clients while pods (`--cluster-cidr`) and the node
 * itself keep the Cluster policy's. No endpoint at all: REJECT; none for a
 * policy: DROP. loadBalancerSourceRanges: only those sources get a portal,
 * the rest is dropped.
 */
export function renderPortalRuleLines(input: PortalRulesInput): TableLine[] {
  const redirect = isUnspecified(input.bindAddress);
  const hostTarget = redirect ? input.hostPortalIP : input.bindAddress;
  const lines: TableLine[] = [];
  const nat = (line: string): void => void lines.push({ table: 'nat', line });
  const filter = (line: string): void => void lines.push({ table: 'filter', line });
  const nodePortDsts = nodePortDestinations(input);
  const cidr = input.clusterCIDR ?? '';
  for (const p of input.proxies) {
    const proto = p.protocol.toLowerCase();
    if (p.healthCheckNodePort) {
      // The agent's health check answers whatever later rules of INPUT say (kube-proxy opens it too).
      filter(`-A ${PortalChain.reject} -p tcp -m addrtype --dst-type LOCAL -m comment --comment ${quote(`${p.id} health check node port`)} -m tcp --dport ${p.healthCheckNodePort} -j ACCEPT`);
    }
    if (p.endpoints.length === 0) {
      lines.push(...rejectLines(p, proto, nodePortDsts));
      continue;
    }
    const toContainer = (port: number | undefined) =>
      port === undefined ? undefined : redirect ? `-j REDIRECT --to-ports ${port}` : `-j DNAT --to-destination ${input.bindAddress}:${port}`;
    const toHost = (port: number | undefined) => (port === undefined ? undefined : `-j DNAT --to-destination ${hostTarget}:${port}`);
    const clusterPort = input.proxyPorts.get(p.id);
    const localPort = input.proxyPorts.get(localSocketId(p.id));
    const hasLocal = (p.localEndpoints?.length ?? 0) > 0;
    const drop = (d: Destination): void => filter(`-A ${PortalChain.reject} ${d.filterMatch.replace('%COMMENT%', quote(`${p.id} has no local endpoints`))} -j DROP`);
    const address = (ip: string, what: string): Destination => ({
      chains: { container: PortalChain.portalsContainer, host: PortalChain.portalsHost },
      match: `-d ${ip}/32 -p ${proto} -m comment --comment ${quote(`${p.id} ${what}`)} -m ${proto} --dport ${p.port}`,
      filterMatch: `-d ${ip}/32 -p ${proto} -m comment --comment %COMMENT% -m ${proto} --dport ${p.port}`,
    });
    const portal = (d: Destination, src: string, container: string | undefined, host: string | undefined): void => {
      if (container) nat(`-A ${d.chains.container} ${src}${d.match} ${container}`);
      if (host) nat(`-A ${d.chains.host} ${d.match} ${host}`);
    };

    // Cluster IP: the internal policy's endpoints.
    const cip = address(p.clusterIP, 'cluster IP');
    if (!p.internalPolicyLocal) portal(cip, '', toContainer(clusterPort), toHost(clusterPort));
    else if (hasLocal) portal(cip, '', toContainer(localPort), toHost(localPort));
    else drop(cip);

    // External destinations.
    const externals: Destination[] = p.externalIPs.map((ip) => address(ip, 'external IP'));
    const ranges = p.loadBalancerSourceRanges ?? [];
    const guarded: Destination[] = [];
    for (const ip of p.loadBalancerIPs ?? []) (ranges.length > 0 ? guarded : externals).push(address(ip, 'loadbalancer IP'));
    if (p.nodePort > 0) {
      for (const dst of nodePortDsts) {
        externals.push({
          chains: { container: PortalChain.nodePortContainer, host: PortalChain.nodePortHost },
          match: `${dst}-p ${proto} -m comment --comment ${quote(`${p.id} node port`)} -m ${proto} --dport ${p.nodePort}`,
          filterMatch: `${dst}-p ${proto} -m addrtype --dst-type LOCAL -m comment --comment %COMMENT% -m ${proto} --dport ${p.nodePort}`,
        });
      }
    }
    const outsideTo = p.externalPolicyLocal ? (hasLocal ? localPort : undefined) : clusterPort;
    for (const d of externals) {
      if (!p.externalPolicyLocal) {
        portal(d, '', toContainer(clusterPort), toHost(clusterPort));
        continue;
      }
      // Pods and the node itself are not subject to the external policy.
      if (cidr) portal(d, `-s ${cidr} `, toContainer(clusterPort), undefined);
      portal(d, '', toContainer(outsideTo), toHost(clusterPort));
      if (!hasLocal) drop(d);
    }
    for (const d of guarded) {
      for (const r of ranges) portal(d, `-s ${r} `, toContainer(outsideTo), undefined);
      if ((input.nodeIPs ?? []).some((ip) => ranges.some((r) => inCidr(ip, r)))) portal(d, '', undefined, toHost(clusterPort));
      filter(`-A ${PortalChain.reject} ${d.filterMatch.replace('%COMMENT%', quote(`${p.id} traffic not in loadBalancerSourceRanges`))} -j DROP`);
    }
  }
  return lines;
}

/**
 * One `iptables-restore --noflush` input that rewrites every owned chain from
 * scratch (declaring a chain flushes it) and inserts the jumps listed in
 * `missingJumps`. Rewriting everything each time means a restarted agent never
 * leaves rules pointing at ports nobody listens on.
 */
export function renderPortalRestore(rules: readonly TableLine[], missingJumps: readonly TableLine[] = []): string {
  const out: string[] = [];
  for (const table of TABLES) {
    out.push(`*${table}`, ...PORTAL_CHAINS[table].map((c) => `:${c} - [0:0]`));
    for (const j of missingJumps) if (j.table === table) out.push(j.line.replace(/^-A /, '-I '));
    for (const r of rules) if (r.table === table) out.push(r.line);
    out.push('COMMIT');
  }
  out.push('');
  return out.join('\n');
}

/** What of a full `iptables-save` dump belongs to this backend. */
export interface OwnedLines {
  /** `table:chain` of the owned chains that exist. */
  chains: Set<string>;
  jumps: TableLine[];
  rules: TableLine[];
}

export function ownedLines(save: string): OwnedLines {
  const owned: OwnedLines = { chains: new Set(), jumps: [], rules: [] };
  const jumpKeys = new Set(PORTAL_JUMPS.map(lineKey));
  const tables = parseSave(save);
  for (const table of ['nat', 'filter'] as const) {
    const saved = tables.get(table);
    if (!saved) continue;
    const chains: readonly string[] = PORTAL_CHAINS[table];
    for (const chain of saved.chains) if (chains.includes(chain)) owned.chains.add(`${table}:${chain}`);
    for (const [chain, lines] of saved.rules) {
      for (const line of lines) {
        if (chains.includes(chain)) owned.rules.push({ table, line });
        else if (jumpKeys.has(`${table} ${line}`)) owned.jumps.push({ table, line });
      }
    }
  }
  return owned;
}

/** A restore input that removes this backend's jumps and chains, or undefined if none exist. */
export function renderPortalCleanup(save: string): string | undefined {
  const { chains, jumps } = ownedLines(save);
  if (chains.size === 0 && jumps.length === 0) return undefined;
  const out: string[] = [];
  for (const table of TABLES) {
    const present = PORTAL_CHAINS[table].filter((c) => chains.has(`${table}:${c}`));
    const tableJumps = jumps.filter((j) => j.table === table);
    if (present.length === 0 && tableJumps.length === 0) continue;
    out.push(`*${table}`, ...present.map((c) => `:${c} - [0:0]`));
    for (const j of tableJumps) out.push(j.line.replace(/^-A /, '-D '));
    for (const c of present) out.push(`-X ${c}`);
    out.push('COMMIT');
  }
  out.push('');
  return out.join('\n');
}
