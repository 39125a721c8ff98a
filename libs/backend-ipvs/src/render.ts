/** Pure rendering of the desired IPVS state from the node's ProxyState. */
import type { EndpointInfo, NodeConfig, ProxyState, ServicePortInfo } from '@svcnet/proxy-core';
import { renderIptablesRules } from './iptables-rules.js';
import { virtualServerKey, type IpsetSpec, type IpvsPlan, type IpvsProtocol, type RealServer, type VirtualServer } from './plan.js';
import { compareReals } from './kernel-state.js';

const HASH_OPTS = 'family inet hashsize 1024 maxelem 65536';
const PORT_OPTS = 'range 0-65535';

/** Our ipsets: kube-proxy's names and types, plus KUBE-NO-ENDPOINTS for fast rejects. */
export const IPSET_TYPES: ReadonlyArray<{ name: string; type: string; createOptions: string }> = [
  { name: 'KUBE-CLUSTER-IP', type: 'hash:ip,port', createOptions: HASH_OPTS },
  { name: 'KUBE-EXTERNAL-IP', type: 'hash:ip,port', createOptions: HASH_OPTS },
  { name: 'KUBE-LOOP-BACK', type: 'hash:ip,port,ip', createOptions: HASH_OPTS },
  { name: 'KUBE-NODE-PORT-TCP', type: 'bitmap:port', createOptions: PORT_OPTS },
  { name: 'KUBE-NODE-PORT-UDP', type: 'bitmap:port', createOptions: PORT_OPTS },
  { name: 'KUBE-NODE-PORT-LOCAL-TCP', type: 'bitmap:port', createOptions: PORT_OPTS },
  { name: 'KUBE-NODE-PORT-LOCAL-UDP', type: 'bitmap:port', createOptions: PORT_OPTS },
  { name: 'KUBE-NO-ENDPOINTS', type: 'hash:ip,port', createOptions: HASH_OPTS },
];
export const IPSET_NAMES: ReadonlySet<string> = new Set(IPSET_TYPES.map((s) => s.name));

export interface RenderIpvsParams {
  state: ProxyState;
  config: NodeConfig;
  scheduler: string;
  full: boolean;
  /**
   * Per-service results of the previous render, reused while the service and
   * endpoints objects are the same (the change trackers keep unchanged ones),
   * so that a sync of 5,000 services only rebuilds what changed.
   */
  memo?: RenderMemo;
}

interface Fragment {
  sp: ServicePortInfo;
  eps: readonly EndpointInfo[] | undefined;
  vss: VirtualServer[];
  members: Array<[string, string]>;
  /** External IPs: bound to kube-ipvs0 like the cluster IP. */
  externalIPs: string[];
}

/** Cache for renderIpvsPlan; valid for one config + scheduler. */
export class RenderMemo {
  config: NodeConfig | undefined;
  scheduler: string | undefined;
  readonly byId = new Map<string, Fragment>();
}

/** kube-proxy's endpoint choice: ready ones, else serving-and-terminating ones. */
function usableEndpoints(eps: readonly EndpointInfo[]): EndpointInfo[] {
  const ready = eps.filter((e) => e.ready);
  return ready.length > 0 ? ready : eps.filter((e) => e.serving && e.terminating);
}

function toReals(eps: readonly EndpointInfo[]): RealServer[] {
  const seen = new Map<string, RealServer>();
  for (const e of eps) seen.set(`${e.ip}:${e.port}`, { address: e.ip, port: e.port, weight: 1 });
  return [...seen.values()].sort(compareReals);
}

function inCidr(ip: string, cidr: string): boolean {
  const [base, bitsText] = cidr.split('/');
  const toInt = (a: string): number | undefined => {
    const p = a.split('.').map(Number);
    return p.length === 4 && p.every((n) => Number.isInteger(n) && n >= 0 && n <= 255) ? ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0 : undefined;
  };
  const a = toInt(ip);
  const b = toInt(base ?? '');
  const bits = Number(bitsText ?? 32);
  if (a === undefined || b === undefined) return false;
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return (a & mask) === (b & mask);
}

/** Node addresses that accept NodePorts (`--nodeport-addresses` filter; IPv4). */
export function nodePortAddresses(config: NodeConfig): string[] {
  const v4 = config.nodeIPs.filter((ip) => !ip.includes(':'));
  return config.nodePortAddresses.length === 0 ? v4 : v4.filter((ip) => config.nodePortAddresses.some((c) => inCidr(ip, c)));
}

function renderService(sp: ServicePortInfo, rawEps: readonly EndpointInfo[] | undefined, nodeIPs: readonly string[], scheduler: string): Fragment {
  const frag: Fragment = { sp, eps: rawEps, vss: [], members: [], externalIPs: [] };
  const add = (set: string, m: string): void => void frag.members.push([set, m]);
  const protocol = sp.protocol.toLowerCase() as IpvsProtocol;
  const eps = usableEndpoints(rawEps ?? []);
  const clusterReals = toReals(sp.internalPolicyLocal ? eps.filter((e) => e.isLocal) : eps);
  const nodeReals = toReals(sp.externalPolicyLocal ? eps.filter((e) => e.isLocal) : eps);
  const persistenceSeconds = sp.sessionAffinity.kind === 'ClientIP' ? sp.sessionAffinity.timeoutSeconds : 0;
  const virtual = (address: string, port: number, reals: RealServer[]): void => {
    frag.vss.push({ protocol, address, port, scheduler, persistenceSeconds, reals, serviceId: sp.id });
  };
  virtual(sp.clusterIP, sp.port, clusterReals);
  add('KUBE-CLUSTER-IP', `${sp.clusterIP},${protocol}:${sp.port}`);
  if (clusterReals.length === 0) add('KUBE-NO-ENDPOINTS', `${sp.clusterIP},${protocol}:${sp.port}`);
  // Hairpin: a local pod reaching itself through the service must be masqueraded.
  for (const e of eps.filter((x) => x.isLocal)) add('KUBE-LOOP-BACK', `${e.ip},${protocol}:${e.port},${e.ip}`);
  for (const ext of sp.externalIPs.filter((ip) => !ip.includes(':'))) {
    virtual(ext, sp.port, sp.externalPolicyLocal ? nodeReals : clusterReals);
    frag.externalIPs.push(ext);
    add('KUBE-EXTERNAL-IP', `${ext},${protocol}:${sp.port}`);
  }
  if (sp.nodePort > 0) {
    for (const ip of nodeIPs) virtual(ip, sp.nodePort, nodeReals);
    if (protocol !== 'sctp') {
      const up = protocol.toUpperCase();
      add(`KUBE-NODE-PORT-${up}`, String(sp.nodePort));
      if (sp.externalPolicyLocal) add(`KUBE-NODE-PORT-LOCAL-${up}`, String(sp.nodePort));
    }
  }
  return frag;
}

/**
 * Desired state → plan. IPv4 only: IPv6 service ports are skipped (their ipsets
 * would need the inet6 family; not supported yet).
 */
export function renderIpvsPlan(params: RenderIpvsParams): IpvsPlan {
  const { state, config, scheduler } = params;
  const addresses = new Set<string>();
  const vss = new Map<string, VirtualServer>();
  const members = new Map<string, Set<string>>(IPSET_TYPES.map((s) => [s.name, new Set<string>()]));
  const add = (set: string, m: string): void => void members.get(set)!.add(m);
  const nodeIPs = nodePortAddresses(config);
  const memo = params.memo;
  if (memo && (memo.config !== config || memo.scheduler !== scheduler)) {
    memo.byId.clear();
    memo.config = config;
    memo.scheduler = scheduler;
  }
  const seen = new Set<string>();
  for (const sp of state.services.values()) {
    if (!sp.clusterIP || sp.clusterIP.includes(':')) continue;
    const rawEps = state.endpoints.get(sp.id);
    let frag = memo?.byId.get(sp.id);
    if (!frag || frag.sp !== sp || frag.eps !== rawEps) {
      frag = renderService(sp, rawEps, nodeIPs, scheduler);
      memo?.byId.set(sp.id, frag);
    }
    seen.add(sp.id);
    addresses.add(sp.clusterIP);
    for (const vs of frag.vss) vss.set(virtualServerKey(vs), vs);
    for (const [set, m] of frag.members) add(set, m);
    // External IPs are bound to kube-ipvs0 like cluster IPs (as kube-proxy does): IPVS only sees
    // packets to local addresses, and a bound address marks its virtual services as ours, so they
    // go with their service and with --cleanup.
    for (const ip of frag.externalIPs) addresses.add(ip);
  }
  if (memo) for (const id of memo.byId.keys()) if (!seen.has(id)) memo.byId.delete(id);
  const ipsets: IpsetSpec[] = IPSET_TYPES.map((s) => ({ ...s, members: [...members.get(s.name)!].sort() }));
  return {
    full: params.full,
    addresses: [...addresses].sort(),
    virtualServers: [...vss.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v),
    ipsets,
    iptables: renderIptablesRules(config),
    ownedAddresses: [...new Set(nodeIPs)].sort(),
  };
}
