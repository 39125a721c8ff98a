/**
 * nftables proxy mode, rendered: one table `ip svcnet` holding everything,
 * laid out as kube-proxy's nftables mode does (KEP-3866): verdict maps keyed
 * by `daddr . l4proto . dport` dispatch to one chain per service port, which
 * picks an endpoint chain with a `numgen random` cascade; endpoint chains DNAT.
 * Pure: state in, text out; the backend replaces the table atomically.
 */
import { createHash } from 'node:crypto';
import { canonicalIPv4Cidr } from '@svcnet/ipam';
import type { EndpointInfo, NodeConfig, ProxyState, ServicePortInfo } from '@svcnet/proxy-core';

export const NFT_TABLE = 'svcnet';
/** kube-proxy's masquerade mark. */
const MASQ_MARK = '0x00004000';
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** One UDP destination and the endpoints it was DNATed to (for conntrack cleanup). */
export interface UdpTarget {
  origDst: string;
  origPortDst?: number;
  endpoints: readonly string[];
}

/** A named set: affinity sets (dynamic, with a timeout) and the node-port address set. */
export interface NftSet {
  type: string;
  flags: string;
  timeoutSeconds?: number;
  elements?: readonly string[];
}

/** The verdict maps, in the order the table declares them, with their key types. */
export const NFT_MAPS: ReadonlyArray<readonly [string, string]> = [
  ['service-ips', 'ipv4_addr . inet_proto . inet_service : verdict'],
  ['service-nodeports', 'inet_proto . inet_service : verdict'],
  ['no-endpoint-services', 'ipv4_addr . inet_proto . inet_service : verdict'],
  ['no-endpoint-nodeports', 'inet_proto . inet_service : verdict'],
];

export interface NftPlan {
  full: boolean;
  /** The whole table, as `nft -f` input (without the delete that precedes it on apply); rendered on first use. */
  readonly table: string;
  /** Rules per chain and elements per map/set, to tell a table changed by hand (drift). */
  counts: Readonly<Record<string, number>>;
  /** UDP cluster IPs / node ports and their endpoints. */
  udp: readonly UdpTarget[];
  /** Every regular (non-base) chain and its rules: a partial sync rewrites the chains whose rules changed. */
  chains: ReadonlyMap<string, readonly string[]>;
  /** Verdict map name → key → verdict: a partial sync adds and deletes elements. */
  maps: ReadonlyMap<string, ReadonlyMap<string, string>>;
  /** Named sets. */
  sets: ReadonlyMap<string, NftSet>;
  /** Per service port id, what it added (reused by the next partial render when unchanged). */
  fragments: ReadonlyMap<string, ServiceFragment>;
  /** Service ports not programmed, with why (IPv6, SCTP). */
  skipped: ReadonlyArray<{ id: string; reason: string }>;
}

function hash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16).toUpperCase();
}

function quote(comment: string): string {
  return `"${comment.replace(/["\\]/g, '').slice(0, 120)}"`;
}

/** The base chains (hooks): fixed, so a partial sync never touches them. */
const BASE_CHAINS: ReadonlyArray<readonly [string, string, readonly string[]]> = [
  ['nat-prerouting', 'type nat hook prerouting priority dstnat; policy accept;', ['jump services']],
  ['nat-output', 'type nat hook output priority -100; policy accept;', ['jump services']],
  ['nat-postrouting', 'type nat hook postrouting priority srcnat; policy accept;', ['jump masquerading']],
  ['filter-input', 'type filter hook input priority -110; policy accept;', ['ct state new jump service-endpoints-check']],
  ['filter-forward', 'type filter hook forward priority -110; policy accept;', ['ct state new jump service-endpoints-check']],
  ['filter-output', 'type filter hook output priority -110; policy accept;', ['ct state new jump service-endpoints-check']],
];

/** Chains every table has whatever the services: the hooks and the dispatch chains (drift checks count their rules). */
export const FIXED_CHAIN_NAMES: readonly string[] = [
  ...BASE_CHAINS.map(([name]) => name),
  'services',
  'service-endpoints-check',
  'masquerading',
  'mark-for-masquerade',
  'reject-service',
];

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** A set's declarations: type, flags, timeout, elements. */
function setParts(set: NftSet): string[] {
  const parts = [`type ${set.type}`, `flags ${set.flags}`];
  if (set.timeoutSeconds) parts.push(`timeout ${set.timeoutSeconds}s`);
  if (set.elements?.length) parts.push(`elements = { ${set.elements.join(', ')} }`);
  return parts;
}

/** A set's body on one line, as `add set` takes it: `{ type …; flags …; … }`. */
export function setBody(set: NftSet): string {
  return `{ ${setParts(set).join('; ')}; }`;
}

/** What one service port adds to the table; a partial sync reuses it while the service and its endpoints are unchanged. */
export interface ServiceFragment {
  chains: Array<readonly [string, readonly string[]]>;
  /** [map, key, verdict] */
  entries: Array<readonly [string, string, string]>;
  sets: Array<readonly [string, NftSet]>;
  udp: UdpTarget[];
  /** Why this service port is not programmed (IPv6, SCTP). */
  skipped?: string;
}

/** Renders one service port with its endpoints. */
export function renderService(sp: ServicePortInfo, endpoints: readonly EndpointInfo[], config: NodeConfig): ServiceFragment {
  const f: ServiceFragment = { chains: [], entries: [], sets: [], udp: [] };
  if (sp.protocol !== 'TCP' && sp.protocol !== 'UDP') return { ...f, skipped: `protocol ${sp.protocol} is not programmed in nftables mode` };
  if (!IPV4.test(sp.clusterIP)) return { ...f, skipped: `cluster IP ${sp.clusterIP} is not IPv4` };
  const proto = sp.protocol.toLowerCase();
  const key = `${sp.id}/${proto}`;
  const h = hash(key);
  const ready = endpoints.filter((e) => e.ready && !e.terminating && IPV4.test(e.ip));
  const clusterEps = sp.internalPolicyLocal ? ready.filter((e) => e.isLocal) : ready;
  const localEps = ready.filter((e) => e.isLocal);
  const destinations = [sp.clusterIP, ...sp.externalIPs.filter((ip) => IPV4.test(ip))];
  if (proto === 'udp') {
    for (const d of destinations) f.udp.push({ origDst: d, endpoints: ready.map((e) => e.ip) });
    if (sp.nodePort > 0) f.udp.push({ origDst: '', origPortDst: sp.nodePort, endpoints: ready.map((e) => e.ip) });
  }
  if (ready.length === 0) {
    for (const d of destinations) f.entries.push(['no-endpoint-services', `${d} . ${proto} . ${sp.port}`, 'goto reject-service']);
    if (sp.nodePort > 0) f.entries.push(['no-endpoint-nodeports', `${proto} . ${sp.nodePort}`, 'goto reject-service']);
    return f;
  }

  const affinity = sp.sessionAffinity.kind === 'ClientIP' ? sp.sessionAffinity.timeoutSeconds : 0;
  const epChain = (e: EndpointInfo) => `sep-${hash(`${key}|${e.ip}:${e.port}`)}`;
  // The timeout is part of the set's name: a set cannot be redefined in place, so a new timeout
  // is a new set (and the chains that use it change with it).
  const affinitySet = (e: EndpointInfo) => `aff-${hash(`${key}|${e.ip}:${e.port}|${affinity}`)}`;
  for (const e of ready) {
    const lines = [`ip saddr ${e.ip} jump mark-for-masquerade comment ${quote(`${sp.id} hairpin`)}`];
    if (affinity > 0) {
      f.sets.push([affinitySet(e), { type: 'ipv4_addr', flags: 'dynamic,timeout', timeoutSeconds: affinity }]);
      lines.push(`update @${affinitySet(e)} { ip saddr }`);
    }
    lines.push(`meta l4proto ${proto} dnat to ${e.ip}:${e.port} comment ${quote(`${sp.id} -> ${e.ip}:${e.port}`)}`);
    f.chains.push([epChain(e), lines]);
  }
  const pick = (eps: readonly EndpointInfo[]): string[] => {
    const lines: string[] = [];
    if (affinity > 0) for (const e of eps) lines.push(`ip saddr @${affinitySet(e)} goto ${epChain(e)}`);
    // A cascade like iptables' --probability: rule i takes 1/(N-i) of what reaches it, so every
    // endpoint gets 1/N. Not `numgen random mod N vmap { … }`: each such anonymous map is a set
    // object of its own, and loading thousands of them is quadratic (110 s for 10k services here).
    eps.forEach((e, i) => {
      const left = eps.length - i;
      lines.push(left > 1 ? `numgen random mod ${left} == 0 goto ${epChain(e)}` : `goto ${epChain(e)}`);
    });
    return lines;
  };

  const svc = `svc-${h}`;
  const masq: string[] = [];
  if (config.masqueradeAll) masq.push(`jump mark-for-masquerade comment ${quote(`${sp.id} masquerade all`)}`);
  else if (config.clusterCIDR) masq.push(`ip saddr != ${config.clusterCIDR} jump mark-for-masquerade comment ${quote(`${sp.id} from outside the pod network`)}`);
  f.chains.push([svc, clusterEps.length === 0 ? [...masq, `goto reject-service`] : [...masq, ...pick(clusterEps)]]);
  for (const d of destinations) f.entries.push(['service-ips', `${d} . ${proto} . ${sp.port}`, `goto ${svc}`]);

  if (sp.nodePort > 0) {
    const ext = `ext-${h}`;
    if (sp.externalPolicyLocal) {
      // Local endpoints only and no masquerade: the pod sees the client's address.
      f.chains.push([ext, localEps.length > 0 ? pick(localEps) : [`drop comment ${quote(`${sp.id} has no local endpoints`)}`]]);
    } else {
      f.chains.push([ext, [`jump mark-for-masquerade comment ${quote(`${sp.id} node port`)}`, `goto ${svc}`]]);
    }
    f.entries.push(['service-nodeports', `${proto} . ${sp.nodePort}`, `goto ${ext}`]);
  }
  return f;
}

/**
 * Renders the table for one node. Given the last applied plan and the service
 * ports changed since (a partial sync), only those are rendered again; the
 * others' fragments are reused as they are (the proxier's change tracker
 * lists every service port whose service or endpoints changed).
 */
export function renderNftPlan(
  state: ProxyState,
  config: NodeConfig,
  full: boolean,
  lastApplied?: NftPlan,
  changed?: ReadonlySet<string>,
): NftPlan {
  const reuse = !full && lastApplied !== undefined && changed !== undefined;
  const maps = new Map<string, Map<string, string>>(NFT_MAPS.map(([name]) => [name, new Map<string, string>()]));
  const chains = new Map<string, readonly string[]>();
  const sets = new Map<string, NftSet>();
  const fragments = new Map<string, ServiceFragment>();
  const udp: UdpTarget[] = [];
  const skipped: Array<{ id: string; reason: string }> = [];

  const services = [...state.services.values()].sort((a, b) => byName(a.id, b.id));
  for (const sp of services) {
    const f = (reuse && !changed.has(sp.id) ? lastApplied.fragments.get(sp.id) : undefined) ?? renderService(sp, state.endpoints.get(sp.id) ?? [], config);
    fragments.set(sp.id, f);
    if (f.skipped) skipped.push({ id: sp.id, reason: f.skipped });
    for (const [name, rules] of f.chains) chains.set(name, rules);
    for (const [map, key, verdict] of f.entries) maps.get(map)!.set(key, verdict);
    for (const [name, set] of f.sets) sets.set(name, set);
    udp.push(...f.udp);
  }

  const v4NodePortCidrs = config.nodePortAddresses.flatMap((c) => canonicalIPv4Cidr(c) ?? []);
  const nodePortMatch = v4NodePortCidrs.length > 0 ? 'ip daddr @nodeport-ips ' : 'ip daddr != 127.0.0.0/8 ';
  chains.set('services', [
    'ip daddr . meta l4proto . th dport vmap @service-ips',
    `fib daddr type local ${nodePortMatch}meta l4proto . th dport vmap @service-nodeports`,
  ]);
  chains.set('service-endpoints-check', [
    'ip daddr . meta l4proto . th dport vmap @no-endpoint-services',
    `fib daddr type local ${nodePortMatch}meta l4proto . th dport vmap @no-endpoint-nodeports`,
  ]);
  chains.set('reject-service', ['meta l4proto tcp reject with tcp reset', 'reject']);
  chains.set('mark-for-masquerade', [`meta mark set meta mark | ${MASQ_MARK}`]);
  chains.set('masquerading', [`meta mark & ${MASQ_MARK} == 0 return`, `meta mark set meta mark ^ ${MASQ_MARK}`, 'masquerade fully-random']);
  if (v4NodePortCidrs.length > 0) sets.set('nodeport-ips', { type: 'ipv4_addr', flags: 'interval', elements: v4NodePortCidrs });

  const counts: Record<string, number> = {};
  for (const [name, elements] of maps) counts[`map ${name}`] = elements.size;
  if (v4NodePortCidrs.length > 0) counts['set nodeport-ips'] = v4NodePortCidrs.length;
  for (const [name, , rules] of BASE_CHAINS) counts[`chain ${name}`] = rules.length;
  for (const [name, rules] of chains) counts[`chain ${name}`] = rules.length;

  let table: string | undefined;
  return {
    full,
    get table() {
      return (table ??= renderTable(chains, maps, sets));
    },
    counts,
    udp,
    skipped,
    chains,
    maps,
    sets,
    fragments,
  };
}

/** The table as one `table ip svcnet { … }` block: maps, sets, base chains, then chains by name. */
function renderTable(chains: NftPlan['chains'], maps: NftPlan['maps'], sets: NftPlan['sets']): string {
  const out: string[] = [`table ip ${NFT_TABLE} {`];
  for (const [name, type] of NFT_MAPS) {
    const elements = [...(maps.get(name) ?? new Map<string, string>())].map(([k, v]) => `${k} : ${v}`);
    const body = elements.length > 0 ? `\n\t\telements = { ${elements.join(',\n\t\t\t     ')} }` : '';
    out.push(`\tmap ${name} {\n\t\ttype ${type}${body}\n\t}`);
  }
  for (const name of [...sets.keys()].sort(byName)) {
    out.push(`\tset ${name} {\n${setParts(sets.get(name)!).map((l) => `\t\t${l}\n`).join('')}\t}`);
  }
  for (const [name, hook, rules] of BASE_CHAINS) out.push(`\tchain ${name} {\n\t\t${hook}\n${rules.map((r) => `\t\t${r}\n`).join('')}\t}`);
  for (const name of [...chains.keys()].sort(byName)) {
    out.push(`\tchain ${name} {\n${chains.get(name)!.map((r) => `\t\t${r}\n`).join('')}\t}`);
  }
  out.push('}', '');
  return out.join('\n');
}
