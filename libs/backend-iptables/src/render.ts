import { isIPv4 } from 'node:net';
import { BackendApplyError } from '@svcnet/proxy-core';
import type { EndpointInfo, NodeConfig, RenderInput } from '@svcnet/proxy-core';
import { invalidReason, isIPv4Cidr, isPort } from './names.js';
import type { ConntrackDeletion, IptablesPlan, IptablesTable, RejectedService } from './plan.js';
import { Chain, renderServiceFragment } from './service-rules.js';
import type { ServiceFragment } from './service-rules.js';

/**
 * Chains whose rules are independent of each other's order: updated with
 * -D / -I instead of a rewrite (rewriting KUBE-SERVICES at 10,000 services
 * costs ~1 s with iptables-nft). The value says whether the last rule is fixed
 * (the node-port jump must stay last); new rules are inserted at the top.
 */
const SET_LIKE: Record<IptablesTable, ReadonlyMap<string, boolean>> = {
  nat: new Map([
    [Chain.services, true],
    [Chain.nodePorts, false],
  ]),
  filter: new Map([
    [Chain.services, false],
    [Chain.externalServices, false],
  ]),
};

/** One table's part of an iptables-restore input. */
export interface RestoreSection {
  /** Chains declared (flushed) and refilled. */
  declare: readonly string[];
  /** Rule lines per written chain (shared with the plan's chain map, not copied). */
  rules: readonly (readonly string[])[];
  /** `-D` / `-I` lines for set-like chains. */
  edits: readonly string[];
  /** Chains to declare and delete (`-X`) at the end. */
  deleteChains: readonly string[];
}

/** Extra lines `apply` adds from what it read in the kernel: stale chains, missing jump rules. */
export interface RestoreExtras {
  deleteChains?: readonly string[];
  jumps?: readonly string[];
}

/** Assembles the restore input of one table; empty when there is nothing to do. */
export function sectionText(table: IptablesTable, s: RestoreSection, extras: RestoreExtras = {}): string {
  const deleteChains = [...new Set([...s.deleteChains, ...(extras.deleteChains ?? [])])];
  const jumps = extras.jumps ?? [];
  if (s.declare.length + s.edits.length + deleteChains.length + jumps.length === 0) return '';
  // No push(...x) of whole rule sets: a full sync has ~170k lines, too many for call arguments.
  const out: string[] = [`*${table}`];
  for (const c of s.declare) out.push(`:${c} - [0:0]`);
  for (const c of deleteChains) out.push(`:${c} - [0:0]`);
  for (const lines of s.rules) for (const l of lines) out.push(l);
  for (const l of s.edits) out.push(l);
  for (const c of deleteChains) out.push(`-X ${c}`);
  for (const l of jumps) out.push(l);
  out.push('COMMIT', '');
  return out.join('\n');
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
      [Chain.nodePorts, []],
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

function nodePortJumps(config: NodeConfig): string[] {
  const comment = '-m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain"';
  if (config.nodePortAddresses.length === 0) return [`-A ${Chain.services} ${comment} -m addrtype --dst-type LOCAL -j ${Chain.nodePorts}`];
  return config.nodePortAddresses.map((cidr) => `-A ${Chain.services} ${comment} -d ${cidr} -m addrtype --dst-type LOCAL -j ${Chain.nodePorts}`);
}

/**
 * Pure: desired state → plan. Unchanged services' fragments are taken from
 * the last plan (partial sync); a full sync re-renders and rewrites all.
 */
export function renderIptablesPlan(input: RenderInput<IptablesPlan>, options: { masqueradeBit?: number } = {}): IptablesPlan {
  const { state, config } = input;
  validateConfig(config);
  const mark = masqueradeMark(options.masqueradeBit ?? 14);
  const last = input.lastApplied;
  const reuse = !input.full && last !== undefined;

  const fragments = new Map<string, ServiceFragment>();
  const rejected: RejectedService[] = [];
  for (const id of [...state.services.keys()].sort()) {
    const svc = state.services.get(id)!;
    const prev = reuse && !input.changed.has(id) ? last.fragments.get(id) : undefined;
    if (prev) {
      fragments.set(id, prev);
      continue;
    }
    const reason = invalidReason(svc);
    if (reason) {
      rejected.push({ id, reason });
      continue;
    }
    const endpoints = (state.endpoints.get(id) ?? []).filter(validEndpoint);
    fragments.set(id, renderServiceFragment({ svc, endpoints, config }));
  }

  const natServices: string[] = [];
  const natNodePorts: string[] = [];
  const filterServices: string[] = [];
  const filterExternal: string[] = [];
  const nat = new Map<string, readonly string[]>();
  for (const f of fragments.values()) {
    natServices.push(...f.natServices);
    natNodePorts.push(...f.natNodePorts);
    filterServices.push(...f.filterServices);
    filterExternal.push(...f.filterExternal);
    for (const [chain, lines] of f.chains) nat.set(chain, lines);
  }
  natServices.push(...nodePortJumps(config));
  const base = baseChains(config, mark);
  nat.set(Chain.services, natServices);
  nat.set(Chain.nodePorts, natNodePorts);
  for (const [chain, lines] of base.nat) nat.set(chain, lastSame(last?.nat.get(chain), lines));
  const filter = new Map<string, readonly string[]>([
    [Chain.services, filterServices],
    [Chain.externalServices, filterExternal],
  ]);
  for (const [chain, lines] of base.filter) filter.set(chain, lastSame(last?.filter.get(chain), lines));

  // Even a full sync deletes what the last plan had and this one does not.
  const sections = {
    nat: tableSection('nat', nat, input.full ? undefined : last?.nat, staleOnly(last?.nat, nat)),
    filter: tableSection('filter', filter, input.full ? undefined : last?.filter, staleOnly(last?.filter, filter)),
  };
  return {
    full: input.full,
    basedOnLast: last !== undefined,
    fragments,
    nat,
    filter,
    sections,
    // Built on demand: a full plan's text is ~25 MB and the last plan stays in memory.
    get restore() {
      return sectionText('nat', sections.nat) + sectionText('filter', sections.filter);
    },
    writtenChains: sections.nat.declare.length + sections.filter.declare.length,
    deletedChains: [...sections.nat.deleteChains.map((c) => `nat/${c}`), ...sections.filter.deleteChains.map((c) => `filter/${c}`)],
    conntrack: last ? conntrackDeletions(last.fragments, fragments) : [],
    rejected,
  };
}

/** Keeps the previous array when equal, so later diffs compare by reference. */
function lastSame(prev: readonly string[] | undefined, next: string[]): readonly string[] {
  return prev && sameLines(prev, next) ? prev : next;
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

/**
 * One table's part of the restore input. Declaring a chain (`:X - [0:0]`)
 * flushes it under --noflush, so only rewritten chains are declared; chains
 * to delete are declared too, as `-X` inside a restore requires.
 */
function tableSection(
  table: IptablesTable,
  next: ReadonlyMap<string, readonly string[]>,
  prev: ReadonlyMap<string, readonly string[]> | undefined,
  stale: readonly string[],
): RestoreSection {
  const declare: string[] = [];
  const rules: (readonly string[])[] = [];
  const deletes: string[] = [];
  const inserts: string[] = [];
  for (const [chain, lines] of next) {
    const old = prev?.get(chain);
    if (old && sameLines(old, lines)) continue;
    const fixedTail = SET_LIKE[table].get(chain);
    const diff = old && fixedTail !== undefined ? setDiff(old, lines, fixedTail) : undefined;
    if (diff) {
      for (const l of diff.removed) deletes.push(`-D${l.slice(2)}`);
      for (const l of diff.added) inserts.push(`-I ${chain} 1${l.slice(3 + chain.length)}`);
      continue;
    }
    declare.push(chain);
    rules.push(lines);
  }
  return { declare, rules, edits: [...deletes, ...inserts], deleteChains: stale };
}

function setDiff(old: readonly string[], next: readonly string[], fixedTail: boolean): { removed: string[]; added: string[] } | undefined {
  const a = new Set(old);
  const b = new Set(next);
  if (a.size !== old.length || b.size !== next.length) return undefined;
  // A changed last rule cannot be placed by -I: rewrite the chain.
  if (fixedTail && old.at(-1) !== next.at(-1)) return undefined;
  return { removed: old.filter((l) => !b.has(l)), added: next.filter((l) => !a.has(l)) };
}

/** UDP flows to endpoints that are gone, and flows to services that just got their first endpoint. */
function conntrackDeletions(prev: ReadonlyMap<string, ServiceFragment>, next: ReadonlyMap<string, ServiceFragment>): ConntrackDeletion[] {
  const out: ConntrackDeletion[] = [];
  const ids = new Set<string>();
  for (const [id, f] of prev) if (f.udp && next.get(id) !== f) ids.add(id);
  for (const [id, f] of next) if (f.udp && prev.get(id) !== f) ids.add(id);
  for (const id of [...ids].sort()) {
    const before = prev.get(id)?.udp;
    const after = next.get(id)?.udp;
    if (before) {
      const keep = new Set(after?.endpointIPs ?? []);
      for (const ip of before.endpointIPs) {
        if (keep.has(ip)) continue;
        for (const dst of [before.clusterIP, ...before.externalIPs]) out.push({ protocol: 'udp', origDst: dst, dstNat: ip });
        if (before.nodePort > 0) out.push({ protocol: 'udp', origPortDst: before.nodePort, dstNat: ip });
      }
    }
    if (after && after.endpointIPs.length > 0 && (before?.endpointIPs.length ?? 0) === 0 && prev.has(id)) {
      out.push({ protocol: 'udp', origDst: after.clusterIP });
    }
  }
  return out;
}
