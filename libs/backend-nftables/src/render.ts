/**
 * nftables proxy mode, rendered: one table `ip svcnet` holding everything,
 * laid out as kube-proxy's nftables mode does (KEP-3866): verdict maps keyed
 * by `daddr . l4proto . dport` dispatch to one chain per service port, which
 * picks an endpoint chain with a `numgen random` cascade; endpoint chains DNAT.
 * Pure: state in, text out; the backend replaces the table atomically.
 */
import { createHash } from 'node:crypto';
import { canonicalIPv4Cidr } from '@svcnet/ipam';
import type { EndpointInfo, NodeConfig, ProxyState } from '@svcnet/proxy-core';

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

export interface NftPlan {
  full: boolean;
  /** The whole table, as `nft -f` input (without the delete that precedes it on apply). */
  table: string;
  /** Rules per chain and elements per map/set, to tell a table changed by hand (drift). */
  counts: Readonly<Record<string, number>>;
  /** UDP cluster IPs / node ports and their endpoints. */
  udp: readonly UdpTarget[];
  /** Names of every chain, map and set (an incremental apply deletes what is gone). */
  chains: readonly string[];
  maps: readonly string[];
  /** Set name → its definition; a set whose definition changed is recreated. */
  sets: Readonly<Record<string, string>>;
  /** Service ports not programmed, with why (IPv6, SCTP). */
  skipped: ReadonlyArray<{ id: string; reason: string }>;
}

function hash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16).toUpperCase();
}

function quote(comment: string): string {
  return `"${comment.replace(/["\\]/g, '').slice(0, 120)}"`;
}

interface Section {
  lines: string[];
  count: number;
}

/** Renders the table for one node. */
export function renderNftPlan(state: ProxyState, config: NodeConfig, full: boolean): NftPlan {
  const serviceIps: string[] = [];
  const serviceNodePorts: string[] = [];
  const noEndpointIps: string[] = [];
  const noEndpointNodePorts: string[] = [];
  const chains = new Map<string, Section>();
  const sets: Record<string, string> = {};
  const counts: Record<string, number> = {};
  const udp: UdpTarget[] = [];
  const skipped: Array<{ id: string; reason: string }> = [];
  const chain = (name: string, lines: string[]): void => {
    chains.set(name, { lines, count: lines.length });
  };

  const services = [...state.services.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const sp of services) {
    if (sp.protocol !== 'TCP' && sp.protocol !== 'UDP') {
      skipped.push({ id: sp.id, reason: `protocol ${sp.protocol} is not programmed in nftables mode` });
      continue;
    }
    if (!IPV4.test(sp.clusterIP)) {
      skipped.push({ id: sp.id, reason: `cluster IP ${sp.clusterIP} is not IPv4` });
      continue;
    }
    const proto = sp.protocol.toLowerCase();
    const key = `${sp.id}/${proto}`;
    const h = hash(key);
    const ready = (state.endpoints.get(sp.id) ?? []).filter((e) => e.ready && !e.terminating && IPV4.test(e.ip));
    const clusterEps = sp.internalPolicyLocal ? ready.filter((e) => e.isLocal) : ready;
    const localEps = ready.filter((e) => e.isLocal);
    const destinations = [sp.clusterIP, ...sp.externalIPs.filter((ip) => IPV4.test(ip))];
    if (proto === 'udp') {
      for (const d of destinations) udp.push({ origDst: d, endpoints: ready.map((e) => e.ip) });
      if (sp.nodePort > 0) udp.push({ origDst: '', origPortDst: sp.nodePort, endpoints: ready.map((e) => e.ip) });
    }
    if (ready.length === 0) {
      for (const d of destinations) noEndpointIps.push(`${d} . ${proto} . ${sp.port} : goto reject-service`);
      if (sp.nodePort > 0) noEndpointNodePorts.push(`${proto} . ${sp.nodePort} : goto reject-service`);
      continue;
    }

    const epChain = (e: EndpointInfo) => `sep-${hash(`${key}|${e.ip}:${e.port}`)}`;
    const affinity = sp.sessionAffinity.kind === 'ClientIP' ? sp.sessionAffinity.timeoutSeconds : 0;
    for (const e of ready) {
      const name = epChain(e);
      const lines = [`ip saddr ${e.ip} jump mark-for-masquerade comment ${quote(`${sp.id} hairpin`)}`];
      if (affinity > 0) {
        sets[`aff-${name.slice(4)}`] = `\tset aff-${name.slice(4)} {\n\t\ttype ipv4_addr\n\t\tflags dynamic,timeout\n\t\ttimeout ${affinity}s\n\t}`;
        lines.push(`update @aff-${name.slice(4)} { ip saddr }`);
      }
      lines.push(`meta l4proto ${proto} dnat to ${e.ip}:${e.port} comment ${quote(`${sp.id} -> ${e.ip}:${e.port}`)}`);
      chain(name, lines);
    }
    const pick = (eps: readonly EndpointInfo[]): string[] => {
      const lines: string[] = [];
      if (affinity > 0) for (const e of eps) lines.push(`ip saddr @aff-${epChain(e).slice(4)} goto ${epChain(e)}`);
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
    if (clusterEps.length === 0) {
      chain(svc, [...masq, `goto reject-service`]);
    } else {
      chain(svc, [...masq, ...pick(clusterEps)]);
    }
    for (const d of destinations) serviceIps.push(`${d} . ${proto} . ${sp.port} : goto ${svc}`);

    if (sp.nodePort > 0) {
      const ext = `ext-${h}`;
      if (sp.externalPolicyLocal) {
        // Local endpoints only and no masquerade: the pod sees the client's address.
        chain(ext, localEps.length > 0 ? pick(localEps) : [`drop comment ${quote(`${sp.id} has no local endpoints`)}`]);
      } else {
        chain(ext, [`jump mark-for-masquerade comment ${quote(`${sp.id} node port`)}`, `goto ${svc}`]);
      }
      serviceNodePorts.push(`${proto} . ${sp.nodePort} : goto ${ext}`);
    }
  }

  const v4NodePortCidrs = config.nodePortAddresses.flatMap((c) => canonicalIPv4Cidr(c) ?? []);
  const nodePortMatch = v4NodePortCidrs.length > 0 ? 'ip daddr @nodeport-ips ' : 'ip daddr != 127.0.0.0/8 ';
  chain('services', [
    'ip daddr . meta l4proto . th dport vmap @service-ips',
    `fib daddr type local ${nodePortMatch}meta l4proto . th dport vmap @service-nodeports`,
  ]);
  chain('service-endpoints-check', [
    'ip daddr . meta l4proto . th dport vmap @no-endpoint-services',
    `fib daddr type local ${nodePortMatch}meta l4proto . th dport vmap @no-endpoint-nodeports`,
  ]);
  chain('reject-service', ['meta l4proto tcp reject with tcp reset', 'reject']);
  chain('mark-for-masquerade', [`meta mark set meta mark | ${MASQ_MARK}`]);
  chain('masquerading', [`meta mark & ${MASQ_MARK} == 0 return`, `meta mark set meta mark ^ ${MASQ_MARK}`, 'masquerade fully-random']);

  const map = (name: string, type: string, elements: string[]): string => {
    counts[`map ${name}`] = elements.length;
    const body = elements.length > 0 ? `\n\t\telements = { ${elements.join(',\n\t\t\t     ')} }` : '';
    return `\tmap ${name} {\n\t\ttype ${type}${body}\n\t}`;
  };
  const out: string[] = [`table ip ${NFT_TABLE} {`];
  out.push(map('service-ips', 'ipv4_addr . inet_proto . inet_service : verdict', serviceIps));
  out.push(map('service-nodeports', 'inet_proto . inet_service : verdict', serviceNodePorts));
  out.push(map('no-endpoint-services', 'ipv4_addr . inet_proto . inet_service : verdict', noEndpointIps));
  out.push(map('no-endpoint-nodeports', 'inet_proto . inet_service : verdict', noEndpointNodePorts));
  if (v4NodePortCidrs.length > 0) {
    counts['set nodeport-ips'] = v4NodePortCidrs.length;
    sets['nodeport-ips'] = `\tset nodeport-ips {\n\t\ttype ipv4_addr\n\t\tflags interval\n\t\telements = { ${v4NodePortCidrs.join(', ')} }\n\t}`;
  }
  const setNames = Object.keys(sets).sort();
  out.push(...setNames.map((n) => sets[n]!));
  // Base chains: the hooks. Their rule counts are checked like every other chain's.
  const base: Array<[string, string, string[]]> = [
    ['nat-prerouting', 'type nat hook prerouting priority dstnat; policy accept;', ['jump services']],
    ['nat-output', 'type nat hook output priority -100; policy accept;', ['jump services']],
    ['nat-postrouting', 'type nat hook postrouting priority srcnat; policy accept;', ['jump masquerading']],
    ['filter-input', 'type filter hook input priority -110; policy accept;', ['ct state new jump service-endpoints-check']],
    ['filter-forward', 'type filter hook forward priority -110; policy accept;', ['ct state new jump service-endpoints-check']],
    ['filter-output', 'type filter hook output priority -110; policy accept;', ['ct state new jump service-endpoints-check']],
  ];
  for (const [name, hook, rules] of base) {
    counts[`chain ${name}`] = rules.length;
    out.push(`\tchain ${name} {\n\t\t${hook}\n${rules.map((r) => `\t\t${r}\n`).join('')}\t}`);
  }
  for (const [name, s] of [...chains].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    counts[`chain ${name}`] = s.count;
    out.push(`\tchain ${name} {\n${s.lines.map((r) => `\t\t${r}\n`).join('')}\t}`);
  }
  out.push('}', '');
  return {
    full,
    table: out.join('\n'),
    counts,
    udp,
    skipped,
    chains: [...base.map(([n]) => n), ...chains.keys()].sort(),
    maps: ['no-endpoint-nodeports', 'no-endpoint-services', 'service-ips', 'service-nodeports'],
    sets: Object.fromEntries(setNames.map((n) => [n, sets[n]!])),
  };
}
