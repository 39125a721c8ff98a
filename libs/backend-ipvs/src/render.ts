/** Pure rendering of the desired IPVS state from the node's ProxyState. */
import { ipInCidr } from '@svcnet/ipam';
import { categorizeEndpoints, type EndpointInfo, type NodeConfig, type ProxyState, type ServicePortInfo } from '@svcnet/proxy-core';
import { renderIptablesRules } from './iptables-rules.js';
import { virtualServerKey, type FragmentPair, type IpvsFragment, type IpvsPlan, type IpvsProtocol, type RealServer, type VirtualServer } from './plan.js';
import { compareReals } from './kernel-state.js';

const HASH_OPTS = 'family inet hashsize 1024 maxelem 65536';
const PORT_OPTS = 'range 0-65535';

/** Our ipsets: kube-proxy's names and types, plus KUBE-NO-ENDPOINTS for fast rejects. */
export const IPSET_TYPES: ReadonlyArray<{ name: string; type: string; createOptions: string }> = [
  { name: 'KUBE-CLUSTER-IP', type: 'hash:ip,port', createOptions: HASH_OPTS },
  { name: 'KUBE-EXTERNAL-IP', type: 'hash:ip,port', createOptions: HASH_OPTS },
  { name: 'KUBE-EXTERNAL-IP-LOCAL', type: 'hash:ip,port', createOptions: HASH_OPTS },
  { name: 'KUBE-LOAD-BALANCER', type: 'hash:ip,port', createOptions: HASH_OPTS },
  { name: 'KUBE-LOAD-BALANCER-LOCAL', type: 'hash:ip,port', createOptions: HASH_OPTS },
  { name: 'KUBE-LOAD-BALANCER-FW', type: 'hash:ip,port', createOptions: HASH_OPTS },
  { name: 'KUBE-LOAD-BALANCER-SOURCE-CIDR', type: 'hash:ip,port,net', createOptions: HASH_OPTS },
  { name: 'KUBE-LOAD-BALANCER-SOURCE-IP', type: 'hash:ip,port,ip', createOptions: HASH_OPTS },
  { name: 'KUBE-LOOP-BACK', type: 'hash:ip,port,ip', createOptions: HASH_OPTS },
  { name: 'KUBE-NODE-PORT-TCP', type: 'bitmap:port', createOptions: PORT_OPTS },
  { name: 'KUBE-NODE-PORT-UDP', type: 'bitmap:port', createOptions: PORT_OPTS },
  { name: 'KUBE-NODE-PORT-LOCAL-TCP', type: 'bitmap:port', createOptions: PORT_OPTS },
  { name: 'KUBE-NODE-PORT-LOCAL-UDP', type: 'bitmap:port', createOptions: PORT_OPTS },
  { name: 'KUBE-HEALTH-CHECK-NODE-PORT', type: 'bitmap:port', createOptions: PORT_OPTS },
  { name: 'KUBE-NO-ENDPOINTS', type: 'hash:ip,port', createOptions: HASH_OPTS },
  { name: 'KUBE-NO-LOCAL-ENDPOINTS', type: 'hash:ip,port', createOptions: HASH_OPTS },
];
export const IPSET_NAMES: ReadonlySet<string> = new Set(IPSET_TYPES.map((s) => s.name));

export interface RenderIpvsParams {
  state: ProxyState;
  config: NodeConfig;
  scheduler: string;
  full: boolean;
  /**
   * With `changed`: a partial render re-renders only those service ports (the proxier's
   * contract: every other one is as in `lastApplied`), so it costs O(changes).
   */
  lastApplied?: IpvsPlan;
  changed?: ReadonlySet<string>;
  /**
   * Per-service results of the previous render, reused while the service and
   * endpoints objects are the same (the change trackers keep unchanged ones),
   * so that a sync of 5,000 services only rebuilds what changed.
   */
  memo?: RenderMemo;
}

/** Cache for renderIpvsPlan; valid for one config + scheduler. */
export class RenderMemo {
  config: NodeConfig | undefined;
  scheduler: string | undefined;
  readonly byId = new Map<string, IpvsFragment>();
}

/** What a plan was rendered with: a partial render needs the same. */
const renderedWith = new WeakMap<IpvsPlan, { config: NodeConfig; scheduler: string }>();

function toReals(eps: readonly EndpointInfo[]): RealServer[] {
  const seen = new Map<string, RealServer>();
  for (const e of eps) seen.set(`${e.ip}:${e.port}`, { address: e.ip, port: e.port, weight: 1 });
  return [...seen.values()].sort(compareReals);
}


/** Node addresses that accept NodePorts (`--nodeport-addresses` filter; IPv4). */
export function nodePortAddresses(config: NodeConfig): string[] {
  const v4 = config.nodeIPs.filter((ip) => !ip.includes(':'));
  return config.nodePortAddresses.length === 0 ? v4 : v4.filter((ip) => config.nodePortAddresses.some((c) => ipInCidr(ip, c)));
}

/** What one service port is rendered from. */
interface ServiceRenderInput {
  sp: ServicePortInfo;
  rawEps: readonly EndpointInfo[] | undefined;
  /** Node addresses that take node ports. */
  nodePortIPs: readonly string[];
  /** Every node address (whether a source range admits the node itself). */
  nodeIPs: readonly string[];
  scheduler: string;
}

/**
 * One service port as kube-proxy's IPVS mode programs it: a virtual service
 * per cluster IP (the internal policy's endpoints), external IP, load-balancer
 * IP and node address (the external policy's). IPVS has one real-server list
 * per virtual service, so externalTrafficPolicy Local keeps every source on
 * this node's endpoints (kube-proxy's IPVS mode does the same). A policy with
 * no endpoint on this node gets no virtual service and a DROP through
 * KUBE-NO-LOCAL-ENDPOINTS; a service with no endpoint at all keeps its
 * virtual services and is refused through KUBE-NO-ENDPOINTS.
 */
function renderService(input: ServiceRenderInput): IpvsFragment {
  const { sp, rawEps, scheduler } = input;
  // External IPs are bound to kube-ipvs0 like cluster IPs (as kube-proxy does): IPVS only sees
  // packets to local addresses, and a bound address marks its virtual services as ours, so they
  // go with their service and with --cleanup.
  const frag: IpvsFragment = { sp, eps: rawEps, vss: [], members: [], addresses: [sp.clusterIP] };
  const add = (set: string, m: string): void => void frag.members.push([set, m]);
  const protocol = sp.protocol.toLowerCase() as IpvsProtocol;
  const cat = categorizeEndpoints(sp, rawEps ?? []);
  const internalReals = toReals(cat.internal);
  const externalReals = toReals(cat.external);
  const persistenceSeconds = sp.sessionAffinity.kind === 'ClientIP' ? sp.sessionAffinity.timeoutSeconds : 0;
  /** A virtual service, or — when the policy has endpoints elsewhere only — a DROP instead. */
  const virtual = (address: string, port: number, reals: RealServer[]): void => {
    if (cat.hasAny && reals.length === 0) {
      add('KUBE-NO-LOCAL-ENDPOINTS', `${address},${protocol}:${port}`);
      return;
    }
    frag.vss.push({ protocol, address, port, scheduler, persistenceSeconds, reals, serviceId: sp.id });
    if (reals.length === 0) add('KUBE-NO-ENDPOINTS', `${address},${protocol}:${port}`);
  };
  virtual(sp.clusterIP, sp.port, internalReals);
  add('KUBE-CLUSTER-IP', `${sp.clusterIP},${protocol}:${sp.port}`);
  // Hairpin: a local pod reaching itself through the service must be masqueraded.
  const local = new Set([...cat.internal, ...cat.external].filter((e) => e.isLocal));
  for (const e of local) add('KUBE-LOOP-BACK', `${e.ip},${protocol}:${e.port},${e.ip}`);
  const v4 = (ip: string) => !ip.includes(':');
  for (const ext of sp.externalIPs.filter(v4)) {
    virtual(ext, sp.port, externalReals);
    frag.addresses.push(ext);
    add(sp.externalPolicyLocal ? 'KUBE-EXTERNAL-IP-LOCAL' : 'KUBE-EXTERNAL-IP', `${ext},${protocol}:${sp.port}`);
  }
  const lbIPs = sp.loadBalancerIPs.filter(v4);
  const fromNode = sp.loadBalancerSourceRanges.some((r) => input.nodeIPs.some((ip) => ipInCidr(ip, r)));
  for (const lb of lbIPs) {
    virtual(lb, sp.port, externalReals);
    frag.addresses.push(lb);
    const member = `${lb},${protocol}:${sp.port}`;
    add('KUBE-LOAD-BALANCER', member);
    if (sp.externalPolicyLocal) add('KUBE-LOAD-BALANCER-LOCAL', member);
    if (sp.loadBalancerSourceRanges.length > 0) {
      add('KUBE-LOAD-BALANCER-FW', member);
      for (const cidr of sp.loadBalancerSourceRanges) add('KUBE-LOAD-BALANCER-SOURCE-CIDR', `${member},${cidr}`);
      // The node reaching its own load-balancer IP (bound locally) comes from that IP.
      if (fromNode) add('KUBE-LOAD-BALANCER-SOURCE-IP', `${member},${lb}`);
    }
  }
  if (sp.nodePort > 0) {
    for (const ip of input.nodePortIPs) virtual(ip, sp.nodePort, externalReals);
    if (protocol !== 'sctp') {
      const up = protocol.toUpperCase();
      add(`KUBE-NODE-PORT-${up}`, String(sp.nodePort));
      if (sp.externalPolicyLocal) add(`KUBE-NODE-PORT-LOCAL-${up}`, String(sp.nodePort));
    }
  }
  if (sp.healthCheckNodePort > 0) add('KUBE-HEALTH-CHECK-NODE-PORT', String(sp.healthCheckNodePort));
  return frag;
}

function renderable(sp: ServicePortInfo | undefined): sp is ServicePortInfo {
  return sp !== undefined && sp.clusterIP !== '' && !sp.clusterIP.includes(':');
}

/**
 * Desired state → plan. IPv4 only: IPv6 service ports are skipped (their ipsets
 * would need the inet6 family; not supported yet).
 */
export function renderIpvsPlan(params: RenderIpvsParams): IpvsPlan {
  const { config, scheduler, lastApplied: last, changed } = params;
  const memo = params.memo;
  if (memo && (memo.config !== config || memo.scheduler !== scheduler)) {
    memo.byId.clear();
    memo.config = config;
    memo.scheduler = scheduler;
  }
  const lastWith = last ? renderedWith.get(last) : undefined;
  const plan =
    !params.full && last?.fragments && changed && lastWith?.config === config && lastWith.scheduler === scheduler
      ? renderPartial(params, last, last.fragments, changed)
      : renderFull(params);
  renderedWith.set(plan, { config, scheduler });
  return plan;
}

function renderFull(params: RenderIpvsParams): IpvsPlan {
  const { state, config, scheduler, memo } = params;
  const nodeIPs = nodePortAddresses(config);
  const fragments = new Map<string, IpvsFragment>();
  for (const sp of state.services.values()) {
    if (!renderable(sp)) continue;
    const rawEps = state.endpoints.get(sp.id);
    let frag = memo?.byId.get(sp.id);
    if (!frag || frag.sp !== sp || frag.eps !== rawEps) {
      frag = renderService({ sp, rawEps, nodePortIPs: nodeIPs, nodeIPs: config.nodeIPs, scheduler });
      memo?.byId.set(sp.id, frag);
    }
    fragments.set(sp.id, frag);
  }
  if (memo) for (const id of memo.byId.keys()) if (!fragments.has(id)) memo.byId.delete(id);
  return makePlan({ full: params.full, fragments, iptables: renderIptablesRules(config), ownedAddresses: [...new Set(nodeIPs)].sort() });
}

/** Only the changed service ports are rendered; the plan's sorted lists are assembled on first use. */
function renderPartial(params: RenderIpvsParams, last: IpvsPlan, lastFragments: ReadonlyMap<string, IpvsFragment>, changed: ReadonlySet<string>): IpvsPlan {
  const { state, scheduler, memo } = params;
  const nodeIPs = nodePortAddresses(params.config);
  const fragments = new Map(lastFragments);
  const pairs: FragmentPair[] = [];
  for (const id of changed) {
    const before = lastFragments.get(id);
    const sp = state.services.get(id);
    let after: IpvsFragment | undefined;
    if (renderable(sp)) {
      const eps = state.endpoints.get(id);
      after = before && before.sp === sp && before.eps === eps ? before : renderService({ sp, rawEps: eps, nodePortIPs: nodeIPs, nodeIPs: params.config.nodeIPs, scheduler });
    }
    if (after) fragments.set(id, after);
    else fragments.delete(id);
    if (memo) {
      if (after) memo.byId.set(id, after);
      else memo.byId.delete(id);
    }
    if (before !== after) pairs.push({ before, after });
  }
  return makePlan({ full: false, fragments, iptables: last.iptables, ownedAddresses: last.ownedAddresses, delta: { baseSerial: last.serial ?? -1, pairs } });
}

/** The whole desired state from the fragments: addresses, virtual services and set members, sorted. */
function assemble(fragments: ReadonlyMap<string, IpvsFragment>): Pick<IpvsPlan, 'addresses' | 'virtualServers' | 'ipsets'> {
  const addresses = new Set<string>();
  const vss = new Map<string, VirtualServer>();
  const members = new Map<string, Set<string>>(IPSET_TYPES.map((t) => [t.name, new Set<string>()]));
  for (const frag of fragments.values()) {
    for (const a of frag.addresses) addresses.add(a);
    for (const vs of frag.vss) vss.set(virtualServerKey(vs), vs);
    for (const [set, m] of frag.members) members.get(set)!.add(m);
  }
  return {
    addresses: [...addresses].sort(),
    virtualServers: [...vss.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v),
    ipsets: IPSET_TYPES.map((t) => ({ ...t, members: [...members.get(t.name)!].sort() })),
  };
}

let planSerial = 0;

function makePlan(f: {
  full: boolean;
  fragments: ReadonlyMap<string, IpvsFragment>;
  iptables: IpvsPlan['iptables'];
  ownedAddresses: string[];
  delta?: IpvsPlan['delta'];
}): IpvsPlan {
  let whole: Pick<IpvsPlan, 'addresses' | 'virtualServers' | 'ipsets'> | undefined;
  const get = () => (whole ??= assemble(f.fragments));
  const plan = {
    full: f.full,
    get addresses() {
      return get().addresses;
    },
    get virtualServers() {
      return get().virtualServers;
    },
    get ipsets() {
      return get().ipsets;
    },
    iptables: f.iptables,
    ownedAddresses: f.ownedAddresses,
  } as IpvsPlan;
  // Not enumerable: two plans with the same kernel content compare equal.
  Object.defineProperty(plan, 'fragments', { value: f.fragments, enumerable: false });
  Object.defineProperty(plan, 'serial', { value: ++planSerial, enumerable: false });
  if (f.delta) Object.defineProperty(plan, 'delta', { value: f.delta, enumerable: false });
  return plan;
}
