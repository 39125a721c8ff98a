/**
 * One service port as the table holds it: what its cluster IP, its external
 * addresses (external and load-balancer IPs) and its node port dispatch to,
 * the endpoints behind each (indexed for the pick chains), what the filter
 * hooks refuse, hairpin elements, and — for ClientIP affinity and
 * loadBalancerSourceRanges only — its own chains and sets. Kept compact; the
 * elements are derived on demand (elementsOfClaim).
 */
import { createHash } from 'node:crypto';
import { categorizeEndpoints, type EndpointInfo, type NodeConfig, type ServicePortInfo } from '@svcnet/proxy-core';
import { quote, type NftElement } from './elements.js';
import type { ElementMapName, PickKind } from './layout.js';
import { masqueradeRules, pickChainName } from './layout.js';

/** A named set of a service (ClientIP affinity: dynamic, with a timeout) or a fixed interval set. */
export interface NftSet {
  type: string;
  flags: string;
  timeoutSeconds?: number;
  elements?: readonly string[];
}

/** One UDP destination and the endpoints it was DNATed to (for conntrack cleanup). */
export interface UdpTarget {
  origDst: string;
  origPortDst?: number;
  endpoints: readonly string[];
}

/** An endpoint (the proxier's EndpointInfo objects are kept as they are: no copies). */
export interface Ep {
  readonly ip: string;
  readonly port: number;
}

/**
 * What one kind of destination of the service (its cluster IP, its external
 * addresses, its node port) puts in the table.
 */
export interface Dispatch {
  /** The dispatch map's verdict (`goto cluster-tcp-2`, `goto ext-…`); '' = no element there. */
  verdict: string;
  /** The filter hooks' verdict for what no rule DNATed: 'goto reject-service' (no endpoints), 'drop' (none for the policy), '' (none). */
  refuse: string;
  /** Endpoints the pick chain indexes: the cluster-endpoints / nodeport-endpoints elements. */
  eps: readonly Ep[];
  /** externalTrafficPolicy Local: outside clients' endpoints, the local-endpoints / nodeport-local-endpoints elements. */
  localEps: readonly Ep[];
  /** Endpoints on this node a pod may reach itself through: masqueraded (hairpin). */
  hairpin: readonly string[];
}

export interface ServiceFragment {
  id: string;
  /** Why this service port is not programmed (IPv6, SCTP). */
  skipped: string | undefined;
  proto: 'tcp' | 'udp';
  port: number;
  clusterIP: string;
  /** External IPs, then load-balancer IPs (IPv4, no repeats, never the cluster IP). */
  external: readonly string[];
  /** The load-balancer IPs among them that loadBalancerSourceRanges guards (`firewall-ips` → `goto <firewall>`). */
  guarded: readonly string[];
  firewall: string;
  nodePort: number;
  cip: Dispatch;
  ext: Dispatch;
  np: Dispatch;
  /** ClientIP affinity and source ranges only: the service's own chains and affinity sets. */
  chains: ReadonlyArray<readonly [string, readonly string[]]>;
  sets: ReadonlyArray<readonly [string, NftSet]>;
  /** The shared pick chains its verdicts go to. */
  picks: readonly string[];
  udp: readonly UdpTarget[];
}

/** A dispatch key a fragment claims: a service address (`a …`), its node port (`n …`) or its cluster IP in `cluster-ips` (`c …`). */
export interface Claim {
  key: string;
  /** Lower wins when two services claim one key: cluster IPs and node ports before external IPs. */
  prio: number;
  address?: string;
  clusterIpSet?: boolean;
}

export function hash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16).toUpperCase();
}

/** Shared by every fragment that has none (a full render at 50,000 services allocates less). */
const NONE: readonly never[] = Object.freeze([]);

const NO_DISPATCH: Dispatch = Object.freeze({ verdict: '', refuse: '', eps: NONE, localEps: NONE, hairpin: NONE });

/**
 * A fragment with nothing in it but what `o` sets. Every fragment gets the
 * same fields in the same order (one object shape: no spread, which would
 * leave tens of thousands of fragments in slow dictionary mode).
 */
function fragment(sp: ServicePortInfo, o: Partial<ServiceFragment>): ServiceFragment {
  return {
    id: sp.id,
    skipped: o.skipped,
    proto: o.proto ?? 'tcp',
    port: sp.port,
    clusterIP: o.clusterIP ?? sp.clusterIP,
    external: o.external ?? NONE,
    guarded: o.guarded ?? NONE,
    firewall: o.firewall ?? '',
    nodePort: o.nodePort ?? 0,
    cip: o.cip ?? NO_DISPATCH,
    ext: o.ext ?? NO_DISPATCH,
    np: o.np ?? NO_DISPATCH,
    chains: o.chains ?? NONE,
    sets: o.sets ?? NONE,
    picks: o.picks ?? NONE,
    udp: o.udp ?? NONE,
  };
}

/** `a.b.c.d` with each part 0–255 (cheaper than a regular expression, and run per endpoint). */
function isIPv4(ip: string): boolean {
  let dots = 0;
  let digits = 0;
  let part = 0;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || ++dots > 3) return false;
      digits = 0;
      part = 0;
    } else if (c >= 48 && c <= 57 && ++digits <= 3) {
      part = part * 10 + c - 48;
      if (part > 255) return false;
    } else return false;
  }
  return dots === 3 && digits > 0;
}

// Only a pod on this node can reach itself through this node's DNAT; an endpoint without a node
// name might be one.
const mayHairpin = (e: EndpointInfo) => e.isLocal || e.nodeName === '';
const hairpinOf = (...lists: ReadonlyArray<readonly EndpointInfo[]>): readonly string[] => {
  if (!lists.some((l) => l.some(mayHairpin))) return NONE;
  return [...new Set(lists.flatMap((l) => l.filter(mayHairpin).map((e) => e.ip)))];
};

/** (kind, protocol, counts) → the pick chain's name and `goto` verdict (a handful of strings, shared by every fragment). */
const gotoPick = new Map<string, [string, string]>();
function pick(kind: PickKind, proto: 'tcp' | 'udp', count: number, local = 0): [string, string] {
  const k = `${kind}/${proto}/${count}/${local}`;
  let v = gotoPick.get(k);
  if (!v) {
    const name = pickChainName(kind, proto, count, local);
    gotoPick.set(k, (v = [name, `goto ${name}`]));
  }
  return v;
}

const REJECT = 'goto reject-service';

/**
 * Renders one service port with its endpoints, as kube-proxy's nftables mode
 * decides it (categorizeEndpoints): the cluster IP uses the internal policy's
 * endpoints; external addresses and the node port the external policy's for
 * outside clients, every endpoint for pods and the node itself. No endpoint
 * at all: every destination is rejected; none for a policy: dropped. Pure.
 */
export function renderService(sp: ServicePortInfo, endpoints: readonly EndpointInfo[], config: NodeConfig): ServiceFragment {
  if (sp.protocol !== 'TCP' && sp.protocol !== 'UDP') return fragment(sp, { skipped: `protocol ${sp.protocol} is not programmed in nftables mode` });
  if (!isIPv4(sp.clusterIP)) return fragment(sp, { skipped: `cluster IP ${sp.clusterIP} is not IPv4` });
  const proto = sp.protocol === 'TCP' ? 'tcp' : 'udp';
  const valid = endpoints.every((e) => isIPv4(e.ip)) ? endpoints : endpoints.filter((e) => isIPv4(e.ip));
  const cat = categorizeEndpoints(sp, valid);
  const lbIPs = sp.loadBalancerIPs.filter(isIPv4);
  const external = dedupe(sp.clusterIP, sp.externalIPs.filter(isIPv4), lbIPs);
  // Only what is certainly an IPv4 CIDR reaches rule text (the agent's feed guard refuses the rest already).
  const ranges = sp.loadBalancerSourceRanges.filter(isIPv4Cidr);
  const guarded = ranges.length > 0 ? lbIPs.filter((ip) => ip !== sp.clusterIP) : NONE;
  const nodePort = sp.nodePort > 0 ? sp.nodePort : 0;
  const etpLocal = sp.externalPolicyLocal;
  let udp: readonly UdpTarget[] = NONE;
  if (proto === 'udp') {
    const ips = (l: readonly EndpointInfo[]) => l.map((e) => e.ip);
    const extIps = [...new Set([...ips(cat.cluster), ...ips(etpLocal ? cat.local : NONE)])];
    udp = [
      { origDst: sp.clusterIP, endpoints: ips(cat.internal) },
      ...external.map((d) => ({ origDst: d, endpoints: extIps })),
      ...(nodePort ? [{ origDst: '', origPortDst: nodePort, endpoints: extIps }] : []),
    ];
  }
  // No endpoint anywhere: every destination goes to the no-endpoint maps, whose filter-hook rules reject.
  if (!cat.hasAny) {
    const rejected: Dispatch = { ...NO_DISPATCH, refuse: REJECT };
    return fragment(sp, { proto, external, nodePort, udp, cip: rejected, ext: external.length > 0 ? rejected : NO_DISPATCH, np: nodePort ? rejected : NO_DISPATCH });
  }
  const firewall = guarded.length > 0 ? firewallChain({ sp, config, lbIPs, ranges }) : undefined;
  const affinity = sp.sessionAffinity.kind === 'ClientIP' ? sp.sessionAffinity.timeoutSeconds : 0;
  if (affinity > 0) return affinityFragment({ sp, config, proto, external, guarded, nodePort, udp, cat, affinity, firewall });

  const picks: string[] = [];
  const use = ([chain, verdict]: [string, string]) => {
    picks.push(chain);
    return verdict;
  };
  // Cluster IP: the internal policy's endpoints; none for it (iTP Local) = dropped.
  const cip: Dispatch =
    cat.internal.length > 0
      ? { verdict: use(pick('cluster', proto, cat.internal.length)), refuse: '', eps: cat.internal, localEps: NONE, hairpin: hairpinOf(cat.internal) }
      : { ...NO_DISPATCH, refuse: 'drop' };
  // External destinations: with eTP Local, the chain also short-circuits pods and the node to every endpoint,
  // so it exists even without a local endpoint; outside clients then fall through to the filter hooks' drop.
  const outside = (kind: 'external' | 'nodeport'): Dispatch => {
    if (!etpLocal) return { verdict: use(pick(kind, proto, cat.cluster.length)), refuse: '', eps: cat.cluster, localEps: NONE, hairpin: hairpinOf(cat.cluster) };
    const localKind = kind === 'external' ? 'external-local' : 'nodeport-local';
    return {
      verdict: use(pick(localKind, proto, cat.cluster.length, cat.local.length)),
      refuse: cat.local.length > 0 ? '' : 'drop',
      eps: cat.cluster,
      localEps: cat.local,
      hairpin: hairpinOf(cat.cluster, cat.local),
    };
  };
  return fragment(sp, {
    proto,
    external,
    guarded,
    firewall: firewall?.[0] ?? '',
    nodePort,
    udp,
    cip,
    ext: external.length > 0 ? outside('external') : NO_DISPATCH,
    np: nodePort ? outside('nodeport') : NO_DISPATCH,
    chains: firewall ? [firewall] : NONE,
    picks,
  });
}

/** External IPs then load-balancer IPs, each once, never the cluster IP. */
function dedupe(clusterIP: string, ...lists: ReadonlyArray<readonly string[]>): readonly string[] {
  const all = lists.flat();
  if (all.length === 0) return NONE;
  return [...new Set(all)].filter((ip) => ip !== clusterIP);
}

/**
 * loadBalancerSourceRanges as kube-proxy applies them: in the filter hooks,
 * before DNAT, traffic to a guarded load-balancer IP from outside the ranges
 * is dropped. The node's own traffic to its load-balancer IP comes from that
 * IP; it is let through when a range holds a node IP (kube-proxy's allowFromNode).
 */
function firewallChain(p: { sp: ServicePortInfo; config: NodeConfig; lbIPs: readonly string[]; ranges: readonly string[] }): [string, readonly string[]] {
  const { sp, config, lbIPs, ranges } = p;
  const name = `fw-${hash(`${sp.id}/${sp.protocol.toLowerCase()}`)}`;
  const fromNode = ranges.some((r) => config.nodeIPs.some((ip) => isIPv4(ip) && cidrHolds(r, ip)));
  const allowed = [...ranges, ...(fromNode ? lbIPs : [])];
  return [name, [...allowed.map((r) => `ip saddr ${r} return`), `drop comment ${quote(`${sp.id} traffic not in loadBalancerSourceRanges`)}`]];
}

function isIPv4Cidr(text: string): boolean {
  const slash = text.indexOf('/');
  const bits = text.slice(slash + 1);
  return slash > 0 && isIPv4(text.slice(0, slash)) && /^\d{1,2}$/.test(bits) && Number(bits) <= 32;
}

function cidrHolds(cidr: string, ip: string): boolean {
  const [net = '', bitsText = '32'] = cidr.split('/');
  const bits = Number(bitsText);
  const toU32 = (a: string) => a.split('.').reduce((n, o) => ((n << 8) | Number(o)) >>> 0, 0);
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return ((toU32(ip) & mask) >>> 0) === ((toU32(net) & mask) >>> 0);
}

/**
 * ClientIP affinity: the service's own chains, a dynamic set per endpoint
 * (kube-proxy's layout): `svc-` picks among the Cluster policy's endpoints,
 * `svl-` among the Local policy's, `cip-` is the cluster IP's entry (its
 * masquerade, then the internal policy's chain) and `ext-` the external
 * destinations' (masquerade, or the short-circuit of pods and the node).
 */
function affinityFragment(p: {
  sp: ServicePortInfo;
  config: NodeConfig;
  proto: 'tcp' | 'udp';
  external: readonly string[];
  guarded: readonly string[];
  nodePort: number;
  udp: readonly UdpTarget[];
  cat: ReturnType<typeof categorizeEndpoints>;
  affinity: number;
  firewall: [string, readonly string[]] | undefined;
}): ServiceFragment {
  const { sp, proto, affinity, cat } = p;
  const key = `${sp.id}/${proto}`;
  const h = hash(key);
  const etpLocal = sp.externalPolicyLocal;
  const sets: Array<readonly [string, NftSet]> = [];
  const chains: Array<readonly [string, readonly string[]]> = p.firewall ? [p.firewall] : [];
  // The timeout is part of the set's name: a set cannot be redefined in place, so a new timeout
  // is a new set (and the chains that use it change with it).
  const setOf = (e: EndpointInfo) => `aff-${hash(`${key}|${e.ip}:${e.port}|${affinity}`)}`;
  const used = new Map<string, EndpointInfo>();
  const pickRules = (eps: readonly EndpointInfo[]): string[] => {
    for (const e of eps) used.set(setOf(e), e);
    const to = (e: EndpointInfo) =>
      `meta l4proto ${proto} update @${setOf(e)} { ip saddr } dnat to ${e.ip}:${e.port} comment ${quote(`${sp.id} -> ${e.ip}:${e.port}`)}`;
    // A client seen before goes where it went; a new one takes a cascade like iptables'
    // --probability: rule i takes 1/(N-i) of what reaches it, so every endpoint gets 1/N.
    const seen = eps.map((e) => `ip saddr @${setOf(e)} ${to(e)}`);
    const fresh = eps.map((e, i) => (eps.length - i > 1 ? `numgen random mod ${eps.length - i} == 0 ${to(e)}` : to(e)));
    return [...seen, ...fresh];
  };
  const svc = `svc-${h}`;
  const svl = `svl-${h}`;
  const externallyUsed = p.external.length > 0 || p.nodePort > 0;
  const usesCluster = cat.cluster.length > 0 && (!sp.internalPolicyLocal || externallyUsed);
  const usesLocal = cat.local.length > 0 && (sp.internalPolicyLocal || (etpLocal && externallyUsed));
  if (usesCluster) chains.push([svc, pickRules(cat.cluster)]);
  if (usesLocal) chains.push([svl, pickRules(cat.local)]);

  let cip: Dispatch = { ...NO_DISPATCH, refuse: 'drop' };
  if (cat.internal.length > 0) {
    const cipChain = `cip-${h}`;
    chains.push([cipChain, [...masqueradeRules(p.config), `goto ${sp.internalPolicyLocal ? svl : svc}`]]);
    cip = { ...NO_DISPATCH, verdict: `goto ${cipChain}`, hairpin: hairpinOf(cat.internal) };
  }
  let ext: Dispatch = NO_DISPATCH;
  let np: Dispatch = NO_DISPATCH;
  if (externallyUsed) {
    const extChain = `ext-${h}`;
    const rules = etpLocal
      ? [
          ...(p.config.clusterCIDR ? [`ip saddr ${p.config.clusterCIDR} goto ${svc}`] : []),
          'fib saddr type local jump mark-for-masquerade',
          `fib saddr type local goto ${svc}`,
          ...(cat.local.length > 0 ? [`goto ${svl}`] : []),
        ]
      : ['jump mark-for-masquerade', `goto ${svc}`];
    chains.push([extChain, rules]);
    const d: Dispatch = {
      ...NO_DISPATCH,
      verdict: `goto ${extChain}`,
      refuse: etpLocal && cat.local.length === 0 ? 'drop' : '',
      hairpin: hairpinOf(cat.cluster, etpLocal ? cat.local : NONE),
    };
    if (p.external.length > 0) ext = d;
    if (p.nodePort) np = d;
  }
  for (const [name] of used) sets.push([name, { type: 'ipv4_addr', flags: 'dynamic,timeout', timeoutSeconds: affinity }]);
  return fragment(sp, {
    proto,
    external: p.external,
    guarded: p.guarded,
    firewall: p.firewall?.[0] ?? '',
    nodePort: p.nodePort,
    udp: p.udp,
    cip,
    ext,
    np,
    chains,
    sets,
  });
}

/** The dispatch keys the fragment wants: its cluster IP (also in `cluster-ips`), each external address and the node port. */
export function claimsOf(f: ServiceFragment): Claim[] {
  if (f.skipped !== undefined) return [];
  const out: Claim[] = [
    { key: `a ${f.clusterIP} . ${f.proto} . ${f.port}`, prio: 0, address: f.clusterIP },
    { key: `c ${f.clusterIP}`, prio: 0, clusterIpSet: true },
  ];
  for (const address of f.external) out.push({ key: `a ${address} . ${f.proto} . ${f.port}`, prio: 1, address });
  if (f.nodePort) out.push({ key: `n ${f.proto} . ${f.nodePort}`, prio: 0 });
  return out;
}

/** The dispatch of one address of the fragment. */
function dispatchOf(f: ServiceFragment, address: string): Dispatch {
  return address === f.clusterIP ? f.cip : f.ext;
}

/** The elements the fragment puts in the table for one of its claims (when it owns that key). */
export function elementsOfClaim(f: ServiceFragment, claim: Claim): NftElement[] {
  const comment = f.id;
  const out: NftElement[] = [];
  if (claim.clusterIpSet) return [{ map: 'cluster-ips', key: [f.clusterIP], comment }];
  if (claim.address === undefined) {
    const k = [f.proto, f.nodePort] as const;
    const d = f.np;
    if (d.verdict) out.push({ map: 'service-nodeports', key: k, data: d.verdict, comment });
    if (d.refuse) out.push({ map: 'no-endpoint-nodeports', key: k, data: d.refuse, comment });
    d.eps.forEach((e, i) => out.push({ map: `nodeport-endpoints-${f.proto}`, key: [f.nodePort, i], data: e, comment }));
    d.localEps.forEach((e, i) => out.push({ map: `nodeport-local-endpoints-${f.proto}`, key: [f.nodePort, i], data: e, comment }));
    for (const ip of d.hairpin) out.push({ map: 'hairpin-nodeports', key: [...k, ip, ip], comment });
    return out;
  }
  const address = claim.address;
  const k = [address, f.proto, f.port] as const;
  const d = dispatchOf(f, address);
  if (d.verdict) out.push({ map: 'service-ips', key: k, data: d.verdict, comment });
  if (d.refuse) out.push({ map: 'no-endpoint-services', key: k, data: d.refuse, comment });
  if (f.firewall && f.guarded.includes(address)) out.push({ map: 'firewall-ips', key: k, data: `goto ${f.firewall}`, comment });
  d.eps.forEach((e, i) => out.push({ map: `cluster-endpoints-${f.proto}`, key: [address, f.port, i], data: e, comment }));
  d.localEps.forEach((e, i) => out.push({ map: `local-endpoints-${f.proto}`, key: [address, f.port, i], data: e, comment }));
  for (const ip of d.hairpin) out.push({ map: 'hairpin-ips', key: [...k, ip, ip], comment });
  return out;
}

/**
 * The same elements as elementsOfClaim, written straight into per-map lists
 * of `nft` element text: a full sync writes every element of the table, and
 * skipping the element objects halves its cost. A unit test keeps the two equal.
 */
export function appendClaimText(f: ServiceFragment, claim: Claim, out: Readonly<Record<ElementMapName, { push(text: string): unknown }>>): void {
  const c = quote(f.id);
  if (claim.clusterIpSet) {
    out['cluster-ips'].push(`${f.clusterIP} comment ${c}`);
    return;
  }
  if (claim.address === undefined) {
    const k = `${f.proto} . ${f.nodePort}`;
    const d = f.np;
    if (d.verdict) out['service-nodeports'].push(`${k} comment ${c} : ${d.verdict}`);
    if (d.refuse) out['no-endpoint-nodeports'].push(`${k} comment ${c} : ${d.refuse}`);
    const eps = out[f.proto === 'tcp' ? 'nodeport-endpoints-tcp' : 'nodeport-endpoints-udp'];
    for (let i = 0; i < d.eps.length; i++) eps.push(`${f.nodePort} . ${i} comment ${c} : ${d.eps[i]!.ip} . ${d.eps[i]!.port}`);
    const local = out[f.proto === 'tcp' ? 'nodeport-local-endpoints-tcp' : 'nodeport-local-endpoints-udp'];
    for (let i = 0; i < d.localEps.length; i++) local.push(`${f.nodePort} . ${i} comment ${c} : ${d.localEps[i]!.ip} . ${d.localEps[i]!.port}`);
    for (const ip of d.hairpin) out['hairpin-nodeports'].push(`${k} . ${ip} . ${ip} comment ${c}`);
    return;
  }
  const k = `${claim.address} . ${f.proto} . ${f.port}`;
  const d = dispatchOf(f, claim.address);
  if (d.verdict) out['service-ips'].push(`${k} comment ${c} : ${d.verdict}`);
  if (d.refuse) out['no-endpoint-services'].push(`${k} comment ${c} : ${d.refuse}`);
  if (f.firewall && f.guarded.includes(claim.address)) out['firewall-ips'].push(`${k} comment ${c} : goto ${f.firewall}`);
  const prefix = `${claim.address} . ${f.port} . `;
  const eps = out[f.proto === 'tcp' ? 'cluster-endpoints-tcp' : 'cluster-endpoints-udp'];
  for (let i = 0; i < d.eps.length; i++) eps.push(`${prefix}${i} comment ${c} : ${d.eps[i]!.ip} . ${d.eps[i]!.port}`);
  const local = out[f.proto === 'tcp' ? 'local-endpoints-tcp' : 'local-endpoints-udp'];
  for (let i = 0; i < d.localEps.length; i++) local.push(`${prefix}${i} comment ${c} : ${d.localEps[i]!.ip} . ${d.localEps[i]!.port}`);
  for (const ip of d.hairpin) out['hairpin-ips'].push(`${k} . ${ip} . ${ip} comment ${c}`);
}
