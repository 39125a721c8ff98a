/** Pure rendering of the desired IPVS state from the node's ProxyState. */
import { ipInCidr } from '@svcnet/ipam';
import type { EndpointInfo, NodeConfig, ProxyState, ServicePortInfo } from '@svcnet/proxy-core';
import { renderIptablesRules } from './iptables-rules.js';
import { virtualServerKey, type FragmentPair, type IpvsFragment, type IpvsPlan, type IpvsProtocol, type RealServer, type VirtualServer } from './plan.js';
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


/** Node addresses that accept NodePorts (`--nodeport-addresses` filter; IPv4). */
export function nodePortAddresses(config: NodeConfig): string[] {
  const v4 = config.nodeIPs.filter((ip) => !ip.includes(':'));
  return config.nodePortAddresses.length === 0 ? v4 : v4.filter((ip) => config.nodePortAddresses.some((c) => ipInCidr(ip, c)));
}

function renderService(sp: ServicePortInfo, rawEps: readonly EndpointInfo[] | undefined, nodeIPs: readonly string[], scheduler: string): IpvsFragment {
  // External IPs are bound to kube-ipvs0 like cluster IPs (as kube-proxy does): IPVS only sees
  // packets to local addresses, and a bound address marks its virtual services as ours, so they
  // go with their service and with --cleanup.
  const frag: IpvsFragment = { sp, eps: rawEps, vss: [], members: [], addresses: [sp.clusterIP] };
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
    frag.addresses.push(ext);
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
      frag = renderService(sp, rawEps, nodeIPs, scheduler);
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
      after = before && before.sp === sp && before.eps === eps ? before : renderService(sp, eps, nodeIPs, scheduler);
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
