/**
 * One service port as the table holds it: the verdict its addresses and node
 * port dispatch to, the endpoints behind each (indexed for the pick chains),
 * hairpin elements, and — for ClientIP affinity only — its own chains and
 * sets. Kept compact; the elements are derived on demand (elementsOfClaim).
 */
import { createHash } from 'node:crypto';
import type { EndpointInfo, NodeConfig, ServicePortInfo } from '@svcnet/proxy-core';
import { quote, type NftElement } from './elements.js';
import type { ElementMapName } from './layout.js';
import { masqueradeRules, pickChainName } from './layout.js';


/** A named set of a service (ClientIP affinity: dynamic, with a timeout) or the node-port address set. */
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

export interface ServiceFragment {
  id: string;
  /** Why this service port is not programmed (IPv6, SCTP). */
  skipped: string | undefined;
  proto: 'tcp' | 'udp';
  port: number;
  /** The cluster IP, then the external IPs (IPv4, no repeats). */
  addresses: readonly string[];
  nodePort: number;
  addressMap: 'service-ips' | 'no-endpoint-services';
  /** `goto cluster-N`, `goto svc-…` (affinity) or `goto reject-service`. */
  addressVerdict: string;
  /** The endpoints `cluster-N` indexes (none for affinity and rejects). */
  addressEps: readonly Ep[];
  nodePortMap: 'service-nodeports' | 'no-endpoint-nodeports';
  /** `goto nodeport-N`, `goto nodeport-local-N`, `goto ext-…` (affinity), `drop` or `goto reject-service`. */
  nodePortVerdict: string;
  nodePortEps: readonly Ep[];
  /** Endpoints on this node that a pod may reach itself through: masqueraded (hairpin). */
  hairpinAddress: readonly string[];
  hairpinNodePort: readonly string[];
  /** ClientIP affinity only: the service's own chains and affinity sets. */
  chains: ReadonlyArray<readonly [string, readonly string[]]>;
  sets: ReadonlyArray<readonly [string, NftSet]>;
  /** The shared pick chains its verdicts go to. */
  picks: readonly string[];
  udp: readonly UdpTarget[];
}

/** A dispatch key a fragment claims: a service address (`a …`) or its node port (`n …`). */
export interface Claim {
  key: string;
  /** Lower wins when two services claim one key: cluster IPs and node ports before external IPs. */
  prio: number;
  address?: string;
}

export function hash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16).toUpperCase();
}

/** Shared by every fragment that has none (a full render at 50,000 services allocates less). */
const NONE: readonly never[] = Object.freeze([]);

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
    addresses: o.addresses ?? NONE,
    nodePort: o.nodePort ?? 0,
    addressMap: o.addressMap ?? 'no-endpoint-services',
    addressVerdict: o.addressVerdict ?? 'goto reject-service',
    addressEps: o.addressEps ?? NONE,
    nodePortMap: o.nodePortMap ?? 'no-endpoint-nodeports',
    nodePortVerdict: o.nodePortVerdict ?? 'goto reject-service',
    nodePortEps: o.nodePortEps ?? NONE,
    hairpinAddress: o.hairpinAddress ?? NONE,
    hairpinNodePort: o.hairpinNodePort ?? NONE,
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

const usable = (e: EndpointInfo) => e.ready && !e.terminating && isIPv4(e.ip);
// Only a pod on this node can reach itself through this node's DNAT; an endpoint without a node
// name might be one.
const mayHairpin = (e: EndpointInfo) => e.isLocal || e.nodeName === '';

/** (kind, protocol, count) → the pick chain's name and `goto` verdict (a handful of strings, shared by every fragment). */
const gotoPick = new Map<number, [string, string]>();
const PICK_KINDS = ['cluster', 'nodeport', 'nodeport-local'] as const;
function pick(kind: 0 | 1 | 2, proto: 'tcp' | 'udp', count: number): [string, string] {
  const k = count * 8 + kind * 2 + (proto === 'tcp' ? 0 : 1);
  let v = gotoPick.get(k);
  if (!v) {
    const name = pickChainName(PICK_KINDS[kind], proto, count);
    gotoPick.set(k, (v = [name, `goto ${name}`]));
  }
  return v;
}

/** Renders one service port with its endpoints. Pure. */
export function renderService(sp: ServicePortInfo, endpoints: readonly EndpointInfo[], config: NodeConfig): ServiceFragment {
  if (sp.protocol !== 'TCP' && sp.protocol !== 'UDP') return fragment(sp, { skipped: `protocol ${sp.protocol} is not programmed in nftables mode` });
  if (!isIPv4(sp.clusterIP)) return fragment(sp, { skipped: `cluster IP ${sp.clusterIP} is not IPv4` });
  const proto = sp.protocol === 'TCP' ? 'tcp' : 'udp';
  const ready = endpoints.every(usable) ? endpoints : endpoints.filter(usable);
  const clusterEps = sp.internalPolicyLocal ? ready.filter((e) => e.isLocal) : ready;
  const addresses = sp.externalIPs.length === 0 ? [sp.clusterIP] : [...new Set([sp.clusterIP, ...sp.externalIPs.filter(isIPv4)])];
  const nodePort = sp.nodePort > 0 ? sp.nodePort : 0;
  let udp: readonly UdpTarget[] = NONE;
  if (proto === 'udp') {
    const ips = ready.map((e) => e.ip);
    udp = [...addresses.map((d) => ({ origDst: d, endpoints: ips })), ...(nodePort ? [{ origDst: '', origPortDst: nodePort, endpoints: ips }] : [])];
  }
  // No endpoint at all: the keys go to the no-endpoint maps, whose filter-hook rules reject.
  if (ready.length === 0) return fragment(sp, { proto, addresses, nodePort, udp });

  const etpLocal = sp.externalPolicyLocal;
  const localEps = etpLocal ? ready.filter((e) => e.isLocal) : NONE;
  const hairpin = (eps: readonly EndpointInfo[]) => (eps.some(mayHairpin) ? eps.filter(mayHairpin).map((e) => e.ip) : NONE);
  // Node-port traffic with externalTrafficPolicy Cluster is always masqueraded; Local keeps the client.
  const hairpinNodePort = nodePort && etpLocal ? hairpin(localEps) : NONE;
  const hairpinAddress = config.masqueradeAll ? NONE : hairpin(clusterEps);
  const affinity = sp.sessionAffinity.kind === 'ClientIP' ? sp.sessionAffinity.timeoutSeconds : 0;
  if (affinity > 0) {
    const base = { proto, addresses, nodePort, udp, addressMap: 'service-ips', nodePortMap: 'service-nodeports' } as const;
    return affinityFragment({ sp, config, base, ready, clusterEps, localEps, affinity, hairpinAddress, hairpinNodePort });
  }

  let addressVerdict = 'goto reject-service';
  let addressEps: readonly Ep[] = NONE;
  let picks: string[] | readonly never[] = NONE;
  if (clusterEps.length > 0) {
    const [chain, verdict] = pick(0, proto, clusterEps.length);
    picks = [chain];
    addressVerdict = verdict;
    addressEps = clusterEps;
  }
  let nodePortVerdict = '';
  let nodePortEps: readonly Ep[] = NONE;
  if (nodePort) {
    const eps = etpLocal ? localEps : ready;
    if (eps.length === 0) nodePortVerdict = 'drop';
    else {
      const [chain, verdict] = pick(etpLocal ? 2 : 1, proto, eps.length);
      picks = [...picks, chain];
      nodePortVerdict = verdict;
      nodePortEps = eps;
    }
  }
  return fragment(sp, {
    proto,
    addresses,
    nodePort,
    udp,
    addressMap: 'service-ips',
    nodePortMap: 'service-nodeports',
    addressVerdict,
    addressEps,
    nodePortVerdict,
    nodePortEps,
    hairpinAddress: addressEps.length > 0 ? hairpinAddress : NONE,
    hairpinNodePort: nodePortEps.length > 0 ? hairpinNodePort : NONE,
    picks,
  });
}

/** ClientIP affinity: the service's own chains, a dynamic set per endpoint (kube-proxy's layout). */
function affinityFragment(p: {
  sp: ServicePortInfo;
  config: NodeConfig;
  base: Partial<ServiceFragment> & { proto: 'tcp' | 'udp'; nodePort: number };
  ready: readonly EndpointInfo[];
  clusterEps: readonly EndpointInfo[];
  localEps: readonly EndpointInfo[];
  affinity: number;
  hairpinAddress: readonly string[];
  hairpinNodePort: readonly string[];
}): ServiceFragment {
  const { sp, base, affinity } = p;
  const proto = base.proto;
  const key = `${sp.id}/${proto}`;
  const h = hash(key);
  const etpLocal = sp.externalPolicyLocal;
  const localEps = etpLocal ? p.localEps : p.ready.filter((e) => e.isLocal);
  const sets: Array<readonly [string, NftSet]> = [];
  const chains: Array<readonly [string, readonly string[]]> = [];
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
  let addressVerdict = 'goto reject-service';
  if (p.clusterEps.length > 0) {
    chains.push([`svc-${h}`, [...masqueradeRules(p.config), ...pickRules(p.clusterEps)]]);
    addressVerdict = `goto svc-${h}`;
  }
  let nodePortVerdict = '';
  if (base.nodePort) {
    if (etpLocal && localEps.length === 0) nodePortVerdict = 'drop';
    else {
      chains.push([`ext-${h}`, etpLocal ? pickRules(localEps) : ['jump mark-for-masquerade', ...pickRules(p.ready)]]);
      nodePortVerdict = `goto ext-${h}`;
    }
  }
  for (const [name] of used) sets.push([name, { type: 'ipv4_addr', flags: 'dynamic,timeout', timeoutSeconds: affinity }]);
  return fragment(sp, {
    ...base,
    addressVerdict,
    nodePortVerdict,
    hairpinAddress: p.clusterEps.length > 0 ? p.hairpinAddress : NONE,
    hairpinNodePort: nodePortVerdict === 'drop' ? NONE : p.hairpinNodePort,
    chains,
    sets,
  });
}

/** The dispatch keys the fragment wants: each address (cluster IP first) and the node port. */
export function claimsOf(f: ServiceFragment): Claim[] {
  if (f.skipped !== undefined) return [];
  const out: Claim[] = f.addresses.map((address, i) => ({ key: `a ${address} . ${f.proto} . ${f.port}`, prio: i === 0 ? 0 : 1, address }));
  if (f.nodePort) out.push({ key: `n ${f.proto} . ${f.nodePort}`, prio: 0 });
  return out;
}

/** The elements the fragment puts in the table for one of its claims (when it owns that key). */
export function elementsOfClaim(f: ServiceFragment, claim: Claim): NftElement[] {
  const comment = f.id;
  const out: NftElement[] = [];
  if (claim.address === undefined) {
    const k = [f.proto, f.nodePort] as const;
    out.push({ map: f.nodePortMap, key: k, data: f.nodePortVerdict, comment });
    f.nodePortEps.forEach((e, i) => out.push({ map: `nodeport-endpoints-${f.proto}`, key: [f.nodePort, i], data: e, comment }));
    for (const ip of f.hairpinNodePort) out.push({ map: 'hairpin-nodeports', key: [...k, ip, ip], comment });
    return out;
  }
  const address = claim.address;
  const k = [address, f.proto, f.port] as const;
  out.push({ map: f.addressMap, key: k, data: f.addressVerdict, comment });
  f.addressEps.forEach((e, i) => out.push({ map: `cluster-endpoints-${f.proto}`, key: [address, f.port, i], data: e, comment }));
  for (const ip of f.hairpinAddress) out.push({ map: 'hairpin-ips', key: [...k, ip, ip], comment });
  return out;
}

/**
 * The same elements as elementsOfClaim, written straight into per-map lists
 * of `nft` element text: a full sync writes every element of the table, and
 * skipping the element objects halves its cost. A unit test keeps the two equal.
 */
export function appendClaimText(f: ServiceFragment, claim: Claim, out: Readonly<Record<ElementMapName, { push(text: string): unknown }>>): void {
  const c = quote(f.id);
  if (claim.address === undefined) {
    const k = `${f.proto} . ${f.nodePort}`;
    out[f.nodePortMap].push(`${k} comment ${c} : ${f.nodePortVerdict}`);
    const eps = out[f.proto === 'tcp' ? 'nodeport-endpoints-tcp' : 'nodeport-endpoints-udp'];
    for (let i = 0; i < f.nodePortEps.length; i++) eps.push(`${f.nodePort} . ${i} comment ${c} : ${f.nodePortEps[i]!.ip} . ${f.nodePortEps[i]!.port}`);
    for (const ip of f.hairpinNodePort) out['hairpin-nodeports'].push(`${k} . ${ip} . ${ip} comment ${c}`);
    return;
  }
  const k = `${claim.address} . ${f.proto} . ${f.port}`;
  out[f.addressMap].push(`${k} comment ${c} : ${f.addressVerdict}`);
  const eps = out[f.proto === 'tcp' ? 'cluster-endpoints-tcp' : 'cluster-endpoints-udp'];
  const prefix = `${claim.address} . ${f.port} . `;
  for (let i = 0; i < f.addressEps.length; i++) eps.push(`${prefix}${i} comment ${c} : ${f.addressEps[i]!.ip} . ${f.addressEps[i]!.port}`);
  for (const ip of f.hairpinAddress) out['hairpin-ips'].push(`${k} . ${ip} . ${ip} comment ${c}`);
}
