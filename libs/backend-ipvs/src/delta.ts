/**
 * Partial syncs in O(change): the kernel is known to hold the last applied plan, so only the
 * changed service ports are diffed. Addresses, set members and virtual services can be shared by
 * several service ports (one Service with two ports shares its cluster IP; two services can share
 * a pod), so the index counts references and a thing leaves the kernel only with its last user.
 */
import { diffVirtualServer, type IpvsChanges } from './diff.js';
import type { KernelState } from './kernel-state.js';
import { IPVS_DUMMY_LINK, ipvsServiceArgs, virtualServerKey, type FragmentPair, type IpvsFragment, type VirtualServer } from './plan.js';

/** Reference counts of everything the applied plan wants. */
export class DesiredIndex {
  readonly addresses = new Map<string, number>();
  /** Keyed `<set> <member>`. */
  readonly members = new Map<string, number>();
  readonly vss = new Map<string, { vs: VirtualServer; refs: number }>();

  static of(fragments: Iterable<IpvsFragment>): DesiredIndex {
    const index = new DesiredIndex();
    for (const f of fragments) index.count(f, 1);
    return index;
  }

  count(f: IpvsFragment, sign: 1 | -1): void {
    for (const a of f.addresses) bump(this.addresses, a, sign);
    for (const [set, m] of f.members) bump(this.members, `${set} ${m}`, sign);
    for (const vs of f.vss) {
      const key = virtualServerKey(vs);
      const cur = this.vss.get(key);
      const refs = (cur?.refs ?? 0) + sign;
      if (refs <= 0) this.vss.delete(key);
      else this.vss.set(key, { vs: sign > 0 ? vs : cur!.vs, refs });
    }
  }
}

function bump(m: Map<string, number>, key: string, by: number): void {
  const n = (m.get(key) ?? 0) + by;
  if (n <= 0) m.delete(key);
  else m.set(key, n);
}

/** The change of a partial sync, and how to record it once applied. */
export interface DeltaDiff {
  changes: IpvsChanges;
  /** Virtual service keys whose kernel state the apply changes (or re-checks, while draining). */
  touched: string[];
  /** The virtual service wanted after the change (undefined: none). */
  desired(key: string): VirtualServer | undefined;
  /** Records the change in the index and the remembered kernel (virtual services are set by the caller). */
  commit(): void;
}

/**
 * Diffs only the changed service ports against the remembered kernel. Undefined when that cannot
 * be done exactly (kube-ipvs0 or a set missing, one virtual service wanted by two service ports):
 * the caller then diffs the whole plan.
 */
export function diffDelta(p: { kernel: KernelState; index: DesiredIndex; pairs: readonly FragmentPair[]; drainingKeys: Iterable<string> }): DeltaDiff | undefined {
  const { kernel, index, pairs } = p;
  if (!kernel.linkExists) return undefined;
  // The index as it will be after this change: copy-on-write for the few keys touched.
  const addrDelta = new Map<string, number>();
  const memberDelta = new Map<string, number>();
  const vsDelta = new Map<string, number>();
  const after = new Map<string, VirtualServer>();
  for (const { before, after: a } of pairs) {
    for (const [frag, sign] of [
      [before, -1],
      [a, 1],
    ] as const) {
      if (!frag) continue;
      for (const addr of frag.addresses) bump0(addrDelta, addr, sign);
      for (const [set, m] of frag.members) bump0(memberDelta, `${set} ${m}`, sign);
      for (const vs of frag.vss) {
        bump0(vsDelta, virtualServerKey(vs), sign);
        if (sign > 0) after.set(virtualServerKey(vs), vs);
      }
    }
  }
  const ipLines: string[] = [];
  for (const [addr, d] of addrDelta) {
    const want = (index.addresses.get(addr) ?? 0) + d > 0;
    if (want && !kernel.addresses.has(addr)) ipLines.push(`addr add ${addr}/32 dev ${IPVS_DUMMY_LINK}`);
    else if (!want && kernel.addresses.has(addr)) ipLines.push(`addr del ${addr}/32 dev ${IPVS_DUMMY_LINK}`);
  }
  const ipsetLines: string[] = [];
  for (const [key, d] of memberDelta) {
    const [set, member] = key.split(' ') as [string, string];
    const have = kernel.ipsets.get(set);
    if (!have) return undefined;
    const want = (index.members.get(key) ?? 0) + d > 0;
    if (want && !have.members.has(member)) ipsetLines.push(`add ${set} ${member}`);
    else if (!want && have.members.has(member)) ipsetLines.push(`del ${set} ${member}`);
  }
  const out: Pick<IpvsChanges, 'ipvsLines' | 'removedReals'> = { ipvsLines: [], removedReals: [] };
  const touched = new Set<string>();
  for (const [key, d] of vsDelta) {
    const refs = (index.vss.get(key)?.refs ?? 0) + d;
    if (refs > 1 || (refs === 1 && !after.has(key) && d !== 0)) return undefined;
    touched.add(key);
    const have = kernel.virtualServers.get(key);
    if (refs === 0) {
      if (have) out.ipvsLines.push(`-D ${ipvsServiceArgs(have)}`);
    } else {
      const want = after.get(key) ?? index.vss.get(key)!.vs;
      if (have !== want) diffVirtualServer(have, want, out);
    }
  }
  // Unchanged services with real servers still draining: their removal is re-checked every sync.
  for (const key of p.drainingKeys) {
    if (touched.has(key)) continue;
    const want = index.vss.get(key)?.vs;
    if (!want) continue;
    touched.add(key);
    diffVirtualServer(kernel.virtualServers.get(key), want, out);
  }
  return {
    changes: { ipLines, ipsetLines, ...out, iptables: undefined },
    touched: [...touched],
    desired: (key) => {
      const d = vsDelta.get(key);
      if (d === undefined) return index.vss.get(key)?.vs;
      return (index.vss.get(key)?.refs ?? 0) + d > 0 ? (after.get(key) ?? index.vss.get(key)?.vs) : undefined;
    },
    commit: () => {
      for (const { before, after: a } of pairs) {
        if (before) index.count(before, -1);
        if (a) index.count(a, 1);
      }
      for (const l of ipLines) {
        const [, op, cidr] = l.split(' ') as [string, string, string];
        const addr = cidr.slice(0, cidr.indexOf('/'));
        if (op === 'add') kernel.addresses.add(addr);
        else kernel.addresses.delete(addr);
      }
      for (const l of ipsetLines) {
        const [op, set, member] = l.split(' ') as [string, string, string];
        const members = kernel.ipsets.get(set)!.members;
        if (op === 'add') members.add(member);
        else members.delete(member);
      }
    },
  };
}

function bump0(m: Map<string, number>, key: string, by: number): void {
  m.set(key, (m.get(key) ?? 0) + by);
}
