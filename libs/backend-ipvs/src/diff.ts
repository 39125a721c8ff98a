/** Pure diff: kernel state (read back or remembered) vs plan → the minimal change. */
import { JUMP_RULES, byChain, iptablesRestoreInput, ownChains, type IptablesView } from './iptables-rules.js';
import type { KernelState } from './kernel-state.js';
import { IPVS_DUMMY_LINK, hostPort, ipvsServiceArgs, virtualServerKey, type IpvsPlan, type RealServer, type VirtualServer } from './plan.js';

/** A real server present in the kernel that the plan no longer wants. */
export interface RemovedReal {
  vs: VirtualServer;
  real: RealServer;
}

/** The minimal change, one input per tool. Empty arrays mean "no call". */
export interface IpvsChanges {
  /** `ip -batch -` lines (link, addresses). */
  ipLines: string[];
  /** `ipset restore` lines. */
  ipsetLines: string[];
  /** `ipvsadm -R` lines: virtual services and real servers to add, edit or delete. */
  ipvsLines: string[];
  /** Real servers of surviving virtual services to remove (graceful termination decides how). */
  removedReals: RemovedReal[];
  /** `iptables-restore --noflush` input, when our chains or jumps differ. */
  iptables: string | undefined;
}

function serviceLine(op: '-A' | '-E', vs: VirtualServer): string {
  return `${op} ${ipvsServiceArgs(vs)} -s ${vs.scheduler}${vs.persistenceSeconds > 0 ? ` -p ${vs.persistenceSeconds}` : ''}`;
}

/** ipvsadm -R line for one real server (masquerade forwarding). */
export function realLine(op: '-a' | '-e' | '-d', vs: VirtualServer, real: RealServer): string {
  const base = `${op} ${ipvsServiceArgs(vs)} -r ${hostPort(real.address, real.port)}`;
  return op === '-d' ? base : `${base} -m -w ${real.weight}`;
}

function iptablesDiffers(view: IptablesView, plan: IpvsPlan): boolean {
  for (const table of ['nat', 'filter'] as const) {
    if (ownChains(table).some((c) => !view.chains.has(`${table}:${c}`))) return true;
    const have = byChain(view.rules[table]);
    const want = byChain(plan.iptables[table]);
    if (have.length !== want.length || have.some((l, i) => l !== want[i])) return true;
  }
  return JUMP_RULES.some(([t, b, r]) => !view.jumps.has(`${t}:${b}:${r}`));
}

/** Virtual services IPVS mode owns: on kube-ipvs0, on node IPs (NodePorts) or external IPs. */
export function ownedVirtualServers(kernel: KernelState, plan: IpvsPlan): VirtualServer[] {
  const owned = new Set([...kernel.addresses, ...plan.addresses, ...plan.ownedAddresses]);
  return [...kernel.virtualServers.values()].filter((v) => owned.has(v.address));
}

/** ipvsadm lines that turn `have` (from the kernel; undefined = absent) into `vs`; reals to remove go to removedReals. */
export function diffVirtualServer(have: VirtualServer | undefined, vs: VirtualServer, out: { ipvsLines: string[]; removedReals: RemovedReal[] }): void {
  if (!have) out.ipvsLines.push(serviceLine('-A', vs));
  else if (have.scheduler !== vs.scheduler || have.persistenceSeconds !== vs.persistenceSeconds || have.foreign) out.ipvsLines.push(serviceLine('-E', vs));
  const haveReals = new Map((have?.reals ?? []).map((r) => [hostPort(r.address, r.port), r]));
  const wantReals = new Set(vs.reals.map((r) => hostPort(r.address, r.port)));
  for (const r of vs.reals) {
    const h = haveReals.get(hostPort(r.address, r.port));
    if (!h) out.ipvsLines.push(realLine('-a', vs, r));
    else if (h.weight !== r.weight || h.foreign) out.ipvsLines.push(realLine('-e', vs, r));
  }
  for (const [k, r] of haveReals) if (!wantReals.has(k)) out.removedReals.push({ vs, real: r });
}

export function diffIpvs(kernel: KernelState, plan: IpvsPlan): IpvsChanges {
  const ipLines: string[] = [];
  if (!kernel.linkExists) ipLines.push(`link add ${IPVS_DUMMY_LINK} type dummy`);
  const want = new Set(plan.addresses);
  for (const a of plan.addresses) if (!kernel.addresses.has(a)) ipLines.push(`addr add ${a}/32 dev ${IPVS_DUMMY_LINK}`);
  for (const a of [...kernel.addresses].sort()) if (!want.has(a)) ipLines.push(`addr del ${a}/32 dev ${IPVS_DUMMY_LINK}`);

  const ipsetLines: string[] = [];
  for (const set of plan.ipsets) {
    const have = kernel.ipsets.get(set.name);
    let members = have?.members ?? new Set<string>();
    if (have && have.type !== set.type) {
      ipsetLines.push(`destroy ${set.name}`);
      members = new Set();
    }
    if (!have || have.type !== set.type) ipsetLines.push(`create ${set.name} ${set.type} ${set.createOptions}`.trim());
    const wantMembers = new Set(set.members);
    for (const m of set.members) if (!members.has(m)) ipsetLines.push(`add ${set.name} ${m}`);
    for (const m of members) if (!wantMembers.has(m)) ipsetLines.push(`del ${set.name} ${m}`);
  }

  const ipvsLines: string[] = [];
  const removedReals: RemovedReal[] = [];
  const desired = new Map(plan.virtualServers.map((v) => [virtualServerKey(v), v]));
  for (const vs of ownedVirtualServers(kernel, plan)) {
    if (!desired.has(virtualServerKey(vs))) ipvsLines.push(`-D ${ipvsServiceArgs(vs)}`);
  }
  for (const [key, vs] of desired) {
    const have = kernel.virtualServers.get(key);
    // The same object as last applied (render reuses unchanged services): nothing to compare.
    if (have === vs) continue;
    diffVirtualServer(have, vs, { ipvsLines, removedReals });
  }
  return {
    ipLines,
    ipsetLines,
    ipvsLines,
    removedReals,
    iptables: iptablesDiffers(kernel.iptables, plan) ? iptablesRestoreInput(plan.iptables, kernel.iptables.jumps) : undefined,
  };
}

/** `vs` as the kernel holds it after an apply: its reals plus those still draining at weight 0. */
export function withDraining(vs: VirtualServer, draining: readonly RemovedReal[]): VirtualServer {
  // Plan objects are shared, never mutated: a service with draining reals gets its own copy.
  return draining.length === 0 ? vs : { ...vs, reals: [...vs.reals, ...draining.map((d) => ({ ...d.real, weight: 0 }))] };
}

/** The kernel state a successful apply of `plan` leaves (plus reals kept draining at weight 0). */
export function stateAfterApply(plan: IpvsPlan, draining: readonly RemovedReal[]): KernelState {
  const virtualServers = new Map(plan.virtualServers.map((v) => [virtualServerKey(v), v]));
  for (const d of draining) {
    const key = virtualServerKey(d.vs);
    const vs = virtualServers.get(key);
    if (vs) virtualServers.set(key, withDraining(vs, [d]));
  }
  const chains = new Set([...ownChains('nat').map((c) => `nat:${c}`), ...ownChains('filter').map((c) => `filter:${c}`)]);
  const jumps = new Set(JUMP_RULES.map(([t, b, r]) => `${t}:${b}:${r}`));
  return {
    linkExists: true,
    addresses: new Set(plan.addresses),
    virtualServers,
    ipsets: new Map(plan.ipsets.map((s) => [s.name, { type: s.type, members: new Set(s.members) }])),
    iptables: { rules: { nat: [...plan.iptables.nat], filter: [...plan.iptables.filter] }, chains, jumps, jumpLines: new Map() },
  };
}
