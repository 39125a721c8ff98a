import { isIPv4 } from 'node:net';
import { BackendApplyError } from '@svcnet/proxy-core';
import type { EndpointInfo, NodeConfig, RenderInput } from '@svcnet/proxy-core';
import { invalidReason, isIPv4Cidr, isPort } from './names.js';
import { ipInCidr as inCidr } from '@svcnet/ipam';
import type { ConntrackDeletion, IptablesPlan, IptablesTable, RejectedService, RestoreSection } from './plan.js';
import { Chain, renderServiceFragment } from './service-rules.js';
import type { ServiceFragment } from './service-rules.js';

/** One table's part of an iptables-restore input. */
/** Extra lines `apply` adds from what it read in the kernel: stale chains, missing jump rules. */
export interface RestoreExtras {
  deleteChains?: readonly string[];
  jumps?: readonly string[];
  /**
   * Put one `-S` (list the table) before the bulk of the input. iptables-nft
   * 1.8 keeps the chain names a restore mentions in a sorted linked list, one
   * insertion per command: a 10,000-service input costs minutes of strcmp. A
   * command naming no chain makes it fetch the whole table instead and skip
   * that list. Jump rules go first: `-S` fakes missing built-in chains in its
   * cache, and a rule added to a faked chain afterwards fails.
   */
  listTableFirst?: boolean;
}

/** Assembles the restore input of one table; empty when there is nothing to do. */
export function sectionText(table: IptablesTable, s: RestoreSection, extras: RestoreExtras = {}): string {
  const deleteChains = [...new Set([...s.deleteChains, ...(extras.deleteChains ?? [])])];
  const jumps = extras.jumps ?? [];
  if (s.declare.length + s.edits.length + deleteChains.length + jumps.length === 0) return '';
  // No push(...x) of whole rule sets: a full sync has ~170k lines, too many for call arguments.
  const out: string[] = [`*${table}`];
  const early = new Set<string>();
  if (extras.listTableFirst) {
    const targets = new Set(jumps.map((l) => / -j (\S+)$/.exec(l)?.[1]));
    for (const c of s.declare) if (targets.has(c)) early.add(c);
    for (const c of early) out.push(`:${c} - [0:0]`);
    for (const l of jumps) out.push(l);
    out.push('-S');
  }
  for (const c of s.declare) if (!early.has(c)) out.push(`:${c} - [0:0]`);
  for (const c of deleteChains) out.push(`:${c} - [0:0]`);
  for (const lines of s.rules) for (const l of lines) out.push(l);
  for (const l of s.edits) out.push(l);
  for (const c of deleteChains) out.push(`-X ${c}`);
  if (!extras.listTableFirst) for (const l of jumps) out.push(l);
  out.push('COMMIT', '');
  return out.join('\n');
}

/**
 * True when listing the table first (see RestoreExtras.listTableFirst) is
 * cheaper than iptables-nft's per-command chain-list insertions: those cost
 * ~commands × chains / 2 string compares (~15 ns each), the listing
 * ~15 µs per rule the table already holds (fetched and printed).
 */
export function listTableFirstPays(s: RestoreSection, extras: { deleteChains?: readonly string[]; tableRules: () => number }): boolean {
  let commands = s.declare.length + s.edits.length;
  for (const lines of s.rules) commands += lines.length;
  const chains = s.declare.length + s.deleteChains.length + (extras.deleteChains?.length ?? 0);
  commands += 2 * (chains - s.declare.length);
  const listCost = commands * (chains / 2) * 15e-9;
  return listCost > 0.05 && listCost > extras.tableRules() * 15e-6 + 0.05;
}

/** The masquerade mark for a bit number (14 → 0x4000, kube-proxy's default). */
export function masqueradeMark(bit: number): string {
  if (!Number.isInteger(bit) || bit < 0 || bit > 31) throw new RangeError(`masquerade bit out of range: ${bit}`);
  return `0x${(1 << bit >>> 0).toString(16)}`;
}

function validateConfig(config: NodeConfig): void {
  if (config.clusterCIDR !== '' && !isIPv4Cidr(config.clusterCIDR)) {
    throw new BackendApplyError('iptables', `cluster CIDR is not an IPv4 CIDR: ${JSON.stringify(config.clusterCIDR)}`);
  }
  for (const cidr of config.nodePortAddresses) {
    if (!isIPv4Cidr(cidr)) throw new BackendApplyError('iptables', `node port address is not an IPv4 CIDR: ${JSON.stringify(cidr)}`);
  }
}

function validEndpoint(e: EndpointInfo): boolean {
  return isIPv4(e.ip) && isPort(e.port);
}

/** Fixed chains: masquerade machinery and forwarding accepts. */
function baseChains(config: NodeConfig, mark: string): { nat: [string, string[]][]; filter: [string, string[]][] } {
  return {
    nat: [
      [
        Chain.postrouting,
        [
          `-A ${Chain.postrouting} -m mark ! --mark ${mark}/${mark} -j RETURN`,
          // The mark is cleared so a re-traversal (e.g. via a tunnel) is not masqueraded twice.
          `-A ${Chain.postrouting} -j MARK --xor-mark ${mark}`,
          `-A ${Chain.postrouting} -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully`,
        ],
      ],
      [Chain.markMasq, [`-A ${Chain.markMasq} -j MARK --or-mark ${mark}`]],
    ],
    filter: [
      [Chain.firewall, localhostNodePortsEnabled(config) ? [LOCALNET_DROP] : []],
      [
        Chain.forward,
        [
          `-A ${Chain.forward} -m comment --comment "kubernetes forwarding rules" -m mark --mark ${mark}/${mark} -j ACCEPT`,
          `-A ${Chain.forward} -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
        ],
      ],
    ],
  };
}

/**
 * kube-proxy's guard for route_localnet (which localhost node ports need):
 * nothing from outside may reach a 127.0.0.0/8 address of the node, except
 * what a NodePort DNATed or what belongs to an existing connection.
 */
export const LOCALNET_DROP =
  `-A ${Chain.firewall} ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block incoming localnet connections" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP`;

/** True when 127.0.0.1 would be one of the node's NodePort addresses. */
function loopbackInNodePortAddresses(config: NodeConfig): boolean {
  return config.nodePortAddresses.length === 0 || config.nodePortAddresses.some((cidr) => inCidr('127.0.0.1', cidr));
}

/** Localhost node ports are on (flag set and loopback among the node-port addresses): route_localnet and the DROP guard go with them. */
export function localhostNodePortsEnabled(config: NodeConfig): boolean {
  return config.localhostNodePorts === true && loopbackInNodePortAddresses(config);
}

function nodePortJumps(config: NodeConfig): string[] {
  const comment = '-m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain"';
  const localhost = config.localhostNodePorts === true;
  if (config.nodePortAddresses.length === 0) {
    // As kube-proxy: without localhost node ports, 127.0.0.0/8 never reaches KUBE-NODEPORTS.
    const notLoopback = localhost ? '' : ' ! -d 127.0.0.0/8';
    return [`-A ${Chain.services} ${comment}${notLoopback} -m addrtype --dst-type LOCAL -j ${Chain.nodePorts}`];
  }
  const out: string[] = [];
  // A CIDR wider than 127.0.0.0/8 would take loopback in too; one RETURN ahead of the jumps keeps it out.
  if (!localhost && config.nodePortAddresses.some((cidr) => inCidr('127.0.0.1', cidr) && !cidrWithin(cidr, '127.0.0.0/8'))) {
    out.push(`-A ${Chain.services} -m comment --comment "no localhost node ports" -d 127.0.0.0/8 -j RETURN`);
  }
  for (const cidr of config.nodePortAddresses) {
    if (!localhost && cidrWithin(cidr, '127.0.0.0/8')) continue;
    out.push(`-A ${Chain.services} ${comment} -d ${cidr} -m addrtype --dst-type LOCAL -j ${Chain.nodePorts}`);
  }
  return out;
}

/** `inner` lies entirely inside `outer`. */
function cidrWithin(inner: string, outer: string): boolean {
  const [ip = '', bits = '32'] = inner.split('/');
  const [, outerBits = '32'] = outer.split('/');
  return Number(bits) >= Number(outerBits) && inCidr(ip, outer);
}

/**
 * Pure: desired state → plan. A full sync renders and rewrites everything; a
 * partial sync re-renders only the `changed` service ports (the proxier's
 * contract: every other service and its endpoints are as in `lastApplied`)
 * and so costs O(changes), not O(services).
 */
export function renderIptablesPlan(input: RenderInput<IptablesPlan>, options: { masqueradeBit?: number } = {}): IptablesPlan {
  validateConfig(input.config);
  const mark = masqueradeMark(options.masqueradeBit ?? 14);
  const last = input.lastApplied;
  return input.full || last === undefined ? renderFull(input, mark) : renderPartial(input, mark, last);
}

function renderFragment(input: RenderInput<IptablesPlan>, id: string, rejected: RejectedService[]): ServiceFragment | undefined {
  const svc = input.state.services.get(id);
  if (!svc) return undefined;
  const reason = invalidReason(svc);
  if (reason) {
    rejected.push({ id, reason });
    return undefined;
  }
  const endpoints = (input.state.endpoints.get(id) ?? []).filter(validEndpoint);
  return renderServiceFragment({ svc, endpoints, config: input.config });
}

type SharedField = 'natServices' | 'natNodePorts' | 'filterServices' | 'filterExternal' | 'filterNodePorts' | 'filterFirewall';
const SHARED: readonly (readonly [IptablesTable, string, SharedField])[] = [
  ['nat', Chain.services, 'natServices'],
  ['nat', Chain.nodePorts, 'natNodePorts'],
  ['filter', Chain.services, 'filterServices'],
  ['filter', Chain.externalServices, 'filterExternal'],
  ['filter', Chain.nodePorts, 'filterNodePorts'],
  ['filter', Chain.proxyFirewall, 'filterFirewall'],
];

function renderFull(input: RenderInput<IptablesPlan>, mark: string): IptablesPlan {
  const { config } = input;
  const last = input.lastApplied;
  const fragments = new Map<string, ServiceFragment>();
  const rejected: RejectedService[] = [];
  for (const id of [...input.state.services.keys()].sort()) {
    const f = renderFragment(input, id, rejected);
    if (f) fragments.set(id, f);
  }
  const lines: Record<SharedField, string[]> = { natServices: [], natNodePorts: [], filterServices: [], filterExternal: [], filterNodePorts: [], filterFirewall: [] };
  const nat = new Map<string, readonly string[]>();
  for (const f of fragments.values()) {
    for (const [, , field] of SHARED) for (const l of f[field]) lines[field].push(l);
    for (const [chain, chainLines] of f.chains) nat.set(chain, chainLines);
  }
  for (const l of nodePortJumps(config)) lines.natServices.push(l);
  const base = baseChains(config, mark);
  const shared = { nat: new Map<string, readonly string[]>(), filter: new Map<string, readonly string[]>() };
  for (const [table, chain, field] of SHARED) shared[table].set(chain, lines[field]);
  for (const [chain, l] of base.nat) shared.nat.set(chain, l);
  for (const [chain, l] of base.filter) shared.filter.set(chain, l);
  for (const [chain, l] of shared.nat) nat.set(chain, l);
  const filter = shared.filter;
  // Even a full sync deletes what the last plan had and this one does not.
  const sections = {
    nat: tableSection(nat, staleOnly(last?.nat, nat)),
    filter: tableSection(filter, staleOnly(last?.filter, filter)),
  };
  const pairs = last ? changedPairs(last.fragments, fragments) : [];
  return makePlan({ routeLocalnet: localhostNodePortsEnabled(config), full: true, basedOnLast: last !== undefined, fragments, shared, sections, conntrack: conntrackDeletions(pairs), rejected }, nat);
}

function renderPartial(input: RenderInput<IptablesPlan>, mark: string, last: IptablesPlan): IptablesPlan {
  const fragments = new Map(last.fragments);
  const rejected = last.rejected.filter((r) => !input.changed.has(r.id) && input.state.services.has(r.id));
  const pairs: FragmentPair[] = [];
  for (const id of [...input.changed].sort()) {
    const before = last.fragments.get(id);
    const after = renderFragment(input, id, rejected);
    if (after) fragments.set(id, after);
    else fragments.delete(id);
    if (before || after) pairs.push({ before, after });
  }

  // The services' own chains: rewrite what differs, delete what is gone.
  const declare: string[] = [];
  const rules: (readonly string[])[] = [];
  const stale: string[] = [];
  for (const { before, after } of pairs) {
    for (const [chain, lines] of after?.chains ?? []) {
      const old = before?.chains.get(chain);
      if (old && sameLines(old, lines)) continue;
      declare.push(chain);
      rules.push(lines);
    }
    for (const chain of before?.chains.keys() ?? []) if (!after?.chains.has(chain)) stale.push(chain);
  }

  // Shared chains: -D / -I of the changed services' lines, never a rewrite
  // (rewriting KUBE-SERVICES at 10,000 services costs ~1 s with iptables-nft).
  // New lines go first, where -I 1 puts them; the node-port jump stays last.
  const shared = { nat: new Map(last.shared.nat), filter: new Map(last.shared.filter) };
  const edits: Record<IptablesTable, string[]> = { nat: [], filter: [] };
  for (const [table, chain, field] of SHARED) {
    const removed = new Set<string>();
    const added: string[] = [];
    for (const { before, after } of pairs) {
      const b = before?.[field] ?? [];
      const a = after?.[field] ?? [];
      for (const l of b) if (!a.includes(l)) removed.add(l);
      for (const l of a) if (!b.includes(l)) added.push(l);
    }
    if (removed.size === 0 && added.length === 0) continue;
    const old = shared[table].get(chain) ?? [];
    shared[table].set(chain, [...added, ...(removed.size > 0 ? old.filter((l) => !removed.has(l)) : old)]);
    for (const l of removed) edits[table].push(`-D${l.slice(2)}`);
    for (const l of added) edits[table].push(`-I ${chain} 1${l.slice(3 + chain.length)}`);
  }

  // Fixed chains only change with the node config.
  const base = baseChains(input.config, mark);
  const baseDeclare: Record<IptablesTable, string[]> = { nat: [], filter: [] };
  const baseRules: Record<IptablesTable, (readonly string[])[]> = { nat: [], filter: [] };
  for (const table of ['nat', 'filter'] as const) {
    for (const [chain, lines] of base[table]) {
      const old = shared[table].get(chain);
      if (old && sameLines(old, lines)) continue;
      shared[table].set(chain, lines);
      baseDeclare[table].push(chain);
      baseRules[table].push(lines);
    }
  }
  const sections = {
    nat: { declare: [...baseDeclare.nat, ...declare], rules: [...baseRules.nat, ...rules], edits: edits.nat, deleteChains: stale.sort() },
    filter: { declare: baseDeclare.filter, rules: baseRules.filter, edits: edits.filter, deleteChains: [] },
  };
  return makePlan({ routeLocalnet: localhostNodePortsEnabled(input.config), full: false, basedOnLast: true, fragments, shared, sections, conntrack: conntrackDeletions(pairs), rejected });
}

interface PlanFields {
  routeLocalnet: boolean;
  full: boolean;
  basedOnLast: boolean;
  fragments: ReadonlyMap<string, ServiceFragment>;
  shared: Readonly<Record<IptablesTable, ReadonlyMap<string, readonly string[]>>>;
  sections: Readonly<Record<IptablesTable, RestoreSection>>;
  conntrack: ConntrackDeletion[];
  rejected: RejectedService[];
}

/** The plan value; the full nat chain map and the restore text are built on first use. */
function makePlan(f: PlanFields, natMap?: ReadonlyMap<string, readonly string[]>): IptablesPlan {
  let nat = natMap;
  const { sections } = f;
  return {
    ...f,
    get nat() {
      if (!nat) {
        const m = new Map<string, readonly string[]>(f.shared.nat);
        for (const frag of f.fragments.values()) for (const [chain, lines] of frag.chains) m.set(chain, lines);
        nat = m;
      }
      return nat;
    },
    get filter() {
      return f.shared.filter;
    },
    // Built on demand: a full plan's text is ~25 MB and the last plan stays in memory.
    get restore() {
      return sectionText('nat', sections.nat) + sectionText('filter', sections.filter);
    },
    writtenChains: sections.nat.declare.length + sections.filter.declare.length,
    deletedChains: [...sections.nat.deleteChains.map((c) => `nat/${c}`), ...sections.filter.deleteChains.map((c) => `filter/${c}`)],
  };
}

interface FragmentPair {
  before: ServiceFragment | undefined;
  after: ServiceFragment | undefined;
}

function changedPairs(prev: ReadonlyMap<string, ServiceFragment>, next: ReadonlyMap<string, ServiceFragment>): FragmentPair[] {
  const out: FragmentPair[] = [];
  for (const [id, before] of prev) if (next.get(id) !== before) out.push({ before, after: next.get(id) });
  for (const [id, after] of next) if (!prev.has(id)) out.push({ before: undefined, after });
  return out;
}

function sameLines(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function staleOnly(prev: ReadonlyMap<string, readonly string[]> | undefined, next: ReadonlyMap<string, readonly string[]>): string[] {
  if (!prev) return [];
  const out: string[] = [];
  for (const chain of prev.keys()) if (!next.has(chain)) out.push(chain);
  return out.sort();
}

/** A full rewrite of one table: every chain declared (flushed) and refilled, stale ones deleted. */
function tableSection(next: ReadonlyMap<string, readonly string[]>, stale: readonly string[]): RestoreSection {
  return { declare: [...next.keys()], rules: [...next.values()], edits: [], deleteChains: stale };
}

/** UDP flows to endpoints that are gone, and flows to services that just got their first endpoint. */
function conntrackDeletions(pairs: readonly FragmentPair[]): ConntrackDeletion[] {
  const out: ConntrackDeletion[] = [];
  for (const { before: b, after: a } of pairs) {
    const before = b?.udp;
    const after = a?.udp;
    if (before) {
      const keep = new Set(after?.endpointIPs ?? []);
      for (const ip of before.endpointIPs) {
        if (keep.has(ip)) continue;
        for (const dst of [before.clusterIP, ...before.externalIPs]) out.push({ protocol: 'udp', origDst: dst, dstNat: ip });
        if (before.nodePort > 0) out.push({ protocol: 'udp', origPortDst: before.nodePort, dstNat: ip });
      }
    }
    if (after && after.endpointIPs.length > 0 && b !== undefined && (before?.endpointIPs.length ?? 0) === 0) {
      out.push({ protocol: 'udp', origDst: after.clusterIP });
    }
  }
  return out;
}
