/**
 * The shape of the table `ip svcnet`: its maps and sets (where per-service
 * state lives, as elements), the fixed chains, and the shared "pick" chains
 * that choose an endpoint for every service with the same number of
 * endpoints. Adding a service or replacing an endpoint changes elements only;
 * chains exist per endpoint count, not per service (ClientIP affinity aside).
 */
import type { NodeConfig } from '@svcnet/proxy-core';
import { canonicalIPv4Cidr } from '@svcnet/ipam';

export const NFT_TABLE = 'svcnet';
/** kube-proxy's masquerade mark. */
export const MASQ_MARK = '0x00004000';

/** How one field of an element key is written and encoded. */
export type FieldKind = 'ip' | 'proto' | 'port' | 'index';
/** What an element maps to: a verdict, an `ip . port` (DNAT target), or nothing (a set). */
export type DataKind = 'verdict' | 'ip-port' | 'none';

export interface ElementMapSpec {
  name: ElementMapName;
  kind: 'map' | 'set';
  /** The declaration lines inside `map name { … }`. */
  declaration: readonly string[];
  key: readonly FieldKind[];
  data: DataKind;
}

/**
 * Maps and sets whose whole content the plan determines (drift compares their
 * digests with the kernel's). The dispatch maps count packets per element
 * (`counter`): the first packet of each connection, per service address or
 * node port.
 */
export const ELEMENT_MAPS = [
  {
    name: 'service-ips',
    kind: 'map',
    declaration: ['type ipv4_addr . inet_proto . inet_service : verdict', 'counter'],
    key: ['ip', 'proto', 'port'],
    data: 'verdict',
  },
  {
    name: 'service-nodeports',
    kind: 'map',
    declaration: ['type inet_proto . inet_service : verdict', 'counter'],
    key: ['proto', 'port'],
    data: 'verdict',
  },
  {
    name: 'no-endpoint-services',
    kind: 'map',
    declaration: ['type ipv4_addr . inet_proto . inet_service : verdict', 'counter'],
    key: ['ip', 'proto', 'port'],
    data: 'verdict',
  },
  {
    name: 'no-endpoint-nodeports',
    kind: 'map',
    declaration: ['type inet_proto . inet_service : verdict', 'counter'],
    key: ['proto', 'port'],
    data: 'verdict',
  },
  // `<service address> . <port> . <i>` → the i-th endpoint, one map per protocol. typeof, because
  // a numgen result has no named type (the `mod 1` only gives the field its type). Per protocol,
  // because nft 1.0.6 ties a DNAT map's port to one transport protocol (`th dport` in a typeof
  // cannot be read back by a later nft run: "conflicting protocols").
  ...(['tcp', 'udp'] as const).flatMap((p) => [
    {
      name: `cluster-endpoints-${p}` as const,
      kind: 'map' as const,
      declaration: [`typeof ip daddr . ${p} dport . numgen random mod 1 : ip daddr . ${p} dport`],
      key: ['ip', 'port', 'index'] as const,
      data: 'ip-port' as const,
    },
    {
      name: `nodeport-endpoints-${p}` as const,
      kind: 'map' as const,
      declaration: [`typeof ${p} dport . numgen random mod 1 : ip daddr . ${p} dport`],
      key: ['port', 'index'] as const,
      data: 'ip-port' as const,
    },
    // externalTrafficPolicy Local: the Local policy's endpoints of an external address / node port
    // (the maps above then hold the Cluster policy's, for pods and the node itself).
    {
      name: `local-endpoints-${p}` as const,
      kind: 'map' as const,
      declaration: [`typeof ip daddr . ${p} dport . numgen random mod 1 : ip daddr . ${p} dport`],
      key: ['ip', 'port', 'index'] as const,
      data: 'ip-port' as const,
    },
    {
      name: `nodeport-local-endpoints-${p}` as const,
      kind: 'map' as const,
      declaration: [`typeof ${p} dport . numgen random mod 1 : ip daddr . ${p} dport`],
      key: ['port', 'index'] as const,
      data: 'ip-port' as const,
    },
  ]),
  {
    // Every cluster IP: traffic to one that no rule DNATed (a port the service does not have) is rejected.
    name: 'cluster-ips',
    kind: 'set',
    declaration: ['type ipv4_addr'],
    key: ['ip'],
    data: 'none',
  },
  {
    // `<load-balancer IP> . <proto> . <port>` → `goto fw-<hash>`: the service's loadBalancerSourceRanges.
    name: 'firewall-ips',
    kind: 'map',
    declaration: ['type ipv4_addr . inet_proto . inet_service : verdict', 'counter'],
    key: ['ip', 'proto', 'port'],
    data: 'verdict',
  },
  {
    // `<service address> . <proto> . <port> . <pod> . <pod>`: a pod reaching itself through the
    // service (source = destination after DNAT) is masqueraded, as kube-proxy's endpoint chains do.
    name: 'hairpin-ips',
    kind: 'set',
    declaration: ['type ipv4_addr . inet_proto . inet_service . ipv4_addr . ipv4_addr'],
    key: ['ip', 'proto', 'port', 'ip', 'ip'],
    data: 'none',
  },
  {
    name: 'hairpin-nodeports',
    kind: 'set',
    declaration: ['type inet_proto . inet_service . ipv4_addr . ipv4_addr'],
    key: ['proto', 'port', 'ip', 'ip'],
    data: 'none',
  },
] as const satisfies ReadonlyArray<{ name: string } & Omit<ElementMapSpec, 'name'>>;

export type ElementMapName = (typeof ELEMENT_MAPS)[number]['name'];
export const ELEMENT_MAP: Readonly<Record<ElementMapName, ElementMapSpec>> = Object.fromEntries(
  ELEMENT_MAPS.map((m) => [m.name, m as ElementMapSpec]),
) as Record<ElementMapName, ElementMapSpec>;

/**
 * The base chains (hooks): fixed. Filter hooks run at -110, before DNAT where
 * the hook has one (prerouting, output): the load-balancer firewall must see
 * the address the client used. The checks of what no rule DNATed (services
 * without endpoints, unused ports and addresses of the service range) must
 * see traffic after DNAT, so that a pod or the node short-circuited to a
 * service's endpoints is not refused: input and forward come after
 * prerouting's DNAT anyway; output has a second hook after it (-90).
 */
export const BASE_CHAINS: ReadonlyArray<readonly [string, string, readonly string[]]> = [
  ['nat-prerouting', 'type nat hook prerouting priority dstnat; policy accept;', ['jump services']],
  // nft refuses `priority dstnat` on the output hook.
  ['nat-output', 'type nat hook output priority -100; policy accept;', ['jump services']],
  ['nat-postrouting', 'type nat hook postrouting priority srcnat; policy accept;', ['jump masquerading']],
  ['filter-prerouting', 'type filter hook prerouting priority -110; policy accept;', ['ct state new jump firewall-check']],
  ['filter-input', 'type filter hook input priority -110; policy accept;', ['ct state new jump service-endpoints-check']],
  ['filter-forward', 'type filter hook forward priority -110; policy accept;', ['ct state new jump service-endpoints-check', 'ct state new jump cluster-ips-check']],
  ['filter-output', 'type filter hook output priority -110; policy accept;', ['ct state new jump firewall-check']],
  [
    'filter-output-post-dnat',
    'type filter hook output priority -90; policy accept;',
    ['ct state new jump service-endpoints-check', 'ct state new jump cluster-ips-check'],
  ],
];

/** The node-port address set (`--nodeport-addresses`): an interval set, so part of the fixed layout. */
export const NODEPORT_IPS = 'nodeport-ips';
/** The service CIDRs (NodeConfig.serviceCIDRs): an unused address in them is dropped. */
export const SERVICE_CIDRS = 'service-cidrs';

/** IPv4 service CIDRs (others are not programmed in an `ip` table). */
export function serviceCidrs(config: NodeConfig): string[] {
  return (config.serviceCIDRs ?? []).flatMap((c) => canonicalIPv4Cidr(c) ?? []);
}

/** The fixed interval sets the configuration asks for, with their elements. */
export function configSets(config: NodeConfig): Array<[string, string[]]> {
  const out: Array<[string, string[]]> = [];
  const np = nodePortCidrs(config);
  if (np.length > 0) out.push([NODEPORT_IPS, np]);
  const sc = serviceCidrs(config);
  if (sc.length > 0) out.push([SERVICE_CIDRS, sc]);
  return out;
}

/** IPv4 CIDRs of --nodeport-addresses (others are not programmed in an `ip` table). */
export function nodePortCidrs(config: NodeConfig): string[] {
  return config.nodePortAddresses.flatMap((c) => canonicalIPv4Cidr(c) ?? []);
}

/** The masquerade rule of traffic to a cluster IP. */
export function masqueradeRules(config: NodeConfig): string[] {
  if (config.masqueradeAll) return ['jump mark-for-masquerade'];
  // Traffic from outside the pod network is masqueraded so that replies come back through this node.
  if (config.clusterCIDR) return [`ip saddr != ${config.clusterCIDR} jump mark-for-masquerade`];
  return [];
}

/** The regular chains every table has, with their rules. */
export function fixedChains(config: NodeConfig): Map<string, readonly string[]> {
  const nodePortMatch = nodePortCidrs(config).length > 0 ? `ip daddr @${NODEPORT_IPS} ` : 'ip daddr != 127.0.0.0/8 ';
  const hairpin = (proto: string) => [
    `meta l4proto ${proto} ct original ip daddr . meta l4proto . ct original proto-dst . ip saddr . ip daddr @hairpin-ips jump mark-for-masquerade`,
    `meta l4proto ${proto} meta l4proto . ct original proto-dst . ip saddr . ip daddr @hairpin-nodeports jump mark-for-masquerade`,
  ];
  // As kube-proxy's nftables mode: an unused port of a cluster IP is refused, an unused address of the range dropped.
  const clusterIpsCheck = ['ip daddr @cluster-ips goto reject-service', ...(serviceCidrs(config).length > 0 ? [`ip daddr @${SERVICE_CIDRS} drop`] : [])];
  return new Map<string, readonly string[]>([
    [
      'services',
      ['ip daddr . meta l4proto . th dport vmap @service-ips', `fib daddr type local ${nodePortMatch}meta l4proto . th dport vmap @service-nodeports`],
    ],
    [
      'service-endpoints-check',
      [
        'ip daddr . meta l4proto . th dport vmap @no-endpoint-services',
        `fib daddr type local ${nodePortMatch}meta l4proto . th dport vmap @no-endpoint-nodeports`,
      ],
    ],
    ['firewall-check', ['ip daddr . meta l4proto . th dport vmap @firewall-ips']],
    ['cluster-ips-check', clusterIpsCheck],
    ['reject-service', ['meta l4proto tcp reject with tcp reset', 'reject']],
    ['mark-for-masquerade', [`meta mark set meta mark | ${MASQ_MARK}`]],
    [
      // `ct original …` needs the protocol fixed in the rule (nft derives the port's type from it).
      'masquerading',
      [...hairpin('tcp'), ...hairpin('udp'), `meta mark & ${MASQ_MARK} == 0 return`, `meta mark set meta mark ^ ${MASQ_MARK}`, 'masquerade fully-random'],
    ],
  ]);
}

/**
 * Which endpoints a pick chain chooses from, and whether it masquerades:
 * `cluster` for cluster IPs (masquerade from outside the pod network),
 * `external` / `nodeport` for external addresses and node ports with
 * externalTrafficPolicy Cluster (always masqueraded), `external-local` /
 * `nodeport-local` for Local (pods and the node itself to every endpoint,
 * outside clients to this node's, unmasqueraded).
 */
export type PickKind = 'cluster' | 'external' | 'nodeport' | 'external-local' | 'nodeport-local';

/** The shared chain that picks one of `count` endpoints (Local kinds: `local` of them for outside clients, `count` for pods and the node). */
export function pickChainName(kind: PickKind, proto: 'tcp' | 'udp', count: number, local = 0): string {
  return kind === 'external-local' || kind === 'nodeport-local' ? `${kind}-${proto}-${local}-${count}` : `${kind}-${proto}-${count}`;
}

/** `cluster-tcp-3` → its rules. Undefined for a name that is not a pick chain. */
export function pickChainRules(name: string, config: NodeConfig): string[] | undefined {
  const m = /^(cluster|external|nodeport|external-local|nodeport-local)-(tcp|udp)-(\d+)(?:-(\d+))?$/.exec(name);
  if (!m) return undefined;
  const kind = m[1] as PickKind;
  const local = kind === 'external-local' || kind === 'nodeport-local';
  if (local !== (m[4] !== undefined)) return undefined;
  const p = m[2]!;
  // One numgen draw per packet, mod the endpoint count, indexes the service's elements: every
  // endpoint gets 1/N. No anonymous `numgen … vmap { … }` per service: each would be a set object
  // of its own, and loading thousands is quadratic.
  const byAddress = (n: number, map: string) => `meta l4proto ${p} dnat ip to ip daddr . th dport . numgen random mod ${n} map @${map}-${p}`;
  const byNodePort = (n: number, map: string) => `meta l4proto ${p} dnat ip to th dport . numgen random mod ${n} map @${map}-${p}`;
  switch (kind) {
    case 'cluster':
      return [...masqueradeRules(config), byAddress(Number(m[3]), 'cluster-endpoints')];
    case 'external':
      return ['jump mark-for-masquerade', byAddress(Number(m[3]), 'cluster-endpoints')];
    case 'nodeport':
      return ['jump mark-for-masquerade', byNodePort(Number(m[3]), 'nodeport-endpoints')];
    case 'external-local':
    case 'nodeport-local': {
      const [l, n] = [Number(m[3]), Number(m[4])];
      const [pick, clusterMap, localMap] =
        kind === 'external-local' ? [byAddress, 'cluster-endpoints', 'local-endpoints'] : [byNodePort, 'nodeport-endpoints', 'nodeport-local-endpoints'];
      return [
        // Pods and the node itself are not subject to the external policy: every endpoint.
        ...(config.clusterCIDR ? [`ip saddr ${config.clusterCIDR} ${pick(n, clusterMap)}`] : []),
        'fib saddr type local jump mark-for-masquerade',
        `fib saddr type local ${pick(n, clusterMap)}`,
        // Outside clients: this node's endpoints, client IP kept. None: nothing DNATs, the filter hooks drop.
        ...(l > 0 ? [pick(l, localMap)] : []),
      ];
    }
  }
}
