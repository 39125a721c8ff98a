import type { Protocol } from '@svcnet/model';
import { JUMP_RULES } from './jump-rules.js';
import type { IptablesPlan, IptablesTable } from './plan.js';
import { ipInCidr as inCidr } from '@svcnet/ipam';
import { parseRule } from './rule-parser.js';
import type { ParsedRule } from './rule-parser.js';

/** A packet (the first of a new connection) to trace through a plan's rules. */
export interface TracePacket {
  src: string;
  dst: string;
  dport: number;
  protocol: Protocol;
  /** Sent by the node itself: nat/filter OUTPUT, `--src-type LOCAL`. */
  fromNode?: boolean;
  /** The destination is one of the node's addresses (`--dst-type LOCAL`). */
  dstLocal?: boolean;
  /** Contents of `-m recent` lists (ClientIP affinity): list name → source IPs. */
  recent?: Readonly<Record<string, readonly string[]>>;
}

/** One way the packet can go (a `-m statistic` rule splits the trace). */
export interface TraceOutcome {
  probability: number;
  verdict: 'ACCEPT' | 'REJECT' | 'DROP';
  /** `ip:port` after DNAT, if DNATed. */
  endpoint: string | undefined;
  masqueraded: boolean;
  /** `-m recent --set` lists the packet was recorded in. */
  recentSet: string[];
  /** Chains traversed, in order. */
  path: string[];
}

/** Where a packet ends up according to the rules (no kernel involved). */
export interface TraceResult {
  outcomes: TraceOutcome[];
  /** Endpoints reached by accepted outcomes, sorted, unique. */
  endpoints: string[];
  /** Some accepted outcome is masqueraded (source NAT to the node). */
  masqueraded: boolean;
  /** Every accepted outcome is masqueraded. */
  alwaysMasqueraded: boolean;
  rejected: boolean;
  dropped: boolean;
}

interface State {
  src: string;
  dst: string;
  dport: number;
  dnatted: boolean;
  mark: number;
  endpoint: string | undefined;
  masq: boolean;
  recentSet: string[];
  path: string[];
  prob: number;
}

type Step = { state: State; end: 'return' | 'ACCEPT' | 'REJECT' | 'DROP' | 'DNAT' };

const parsedCache = new WeakMap<ReadonlyMap<string, readonly string[]>, Map<string, ParsedRule[]>>();

function rulesOf(chains: ReadonlyMap<string, readonly string[]>, chain: string): ParsedRule[] | undefined {
  let cache = parsedCache.get(chains);
  if (!cache) parsedCache.set(chains, (cache = new Map()));
  let rules = cache.get(chain);
  if (!rules) {
    const lines = chains.get(chain);
    if (!lines) return undefined;
    rules = lines.map(parseRule);
    cache.set(chain, rules);
  }
  return rules;
}

const builtinCache = new Map<string, ParsedRule[]>();
function builtinRules(table: IptablesTable, chain: string): ParsedRule[] {
  const key = `${table}/${chain}`;
  let rules = builtinCache.get(key);
  if (!rules) {
    rules = JUMP_RULES.filter((j) => j.table === table && j.chain === chain).map((j) => parseRule(`-A ${chain} ${j.spec}`));
    builtinCache.set(key, rules);
  }
  return rules;
}

class Tracer {
  constructor(
    private readonly plan: Pick<IptablesPlan, 'nat' | 'filter'>,
    private readonly pkt: TracePacket,
  ) {}

  /**
   * A built-in chain's rules: as given when the chains hold it (a state read
   * back from the kernel, iptables-save), else our jump rules (a rendered plan).
   */
  hookRules(table: IptablesTable, hook: string): ParsedRule[] {
    return rulesOf(table === 'nat' ? this.plan.nat : this.plan.filter, hook) ?? builtinRules(table, hook);
  }

  chain(table: IptablesTable, name: string, rules: ParsedRule[], st: State, depth: number): Step[] {
    if (depth > 32) throw new Error(`tracer: jump depth exceeded at ${name}`);
    return this.from(table, rules, 0, { ...st, path: [...st.path, `${table}/${name}`] }, depth);
  }

  private from(table: IptablesTable, rules: ParsedRule[], start: number, st: State, depth: number): Step[] {
    for (let i = start; i < rules.length; i++) {
      const r = rules[i]!;
      if (!this.matches(r, st)) continue;
      if (r.probability !== undefined && r.probability < 1) {
        const taken = { ...st, prob: st.prob * r.probability };
        const skipped = { ...st, prob: st.prob * (1 - r.probability) };
        return [...this.target(table, rules, i, r, taken, depth), ...this.from(table, rules, i + 1, skipped, depth)];
      }
      return this.target(table, rules, i, r, st, depth);
    }
    return [{ state: st, end: 'return' }];
  }

  private target(table: IptablesTable, rules: ParsedRule[], i: number, r: ParsedRule, st0: State, depth: number): Step[] {
    const st = r.recent?.mode === 'set' ? { ...st0, recentSet: [...st0.recentSet, r.recent.name] } : st0;
    const t = r.target;
    const chains = table === 'nat' ? this.plan.nat : this.plan.filter;
    const next = (s: State) => this.from(table, rules, i + 1, s, depth);
    switch (t) {
      case undefined:
        return next(st);
      case 'RETURN':
        return [{ state: st, end: 'return' }];
      case 'ACCEPT':
      case 'REJECT':
      case 'DROP':
        return [{ state: st, end: t }];
      case 'MARK':
        return next({ ...st, mark: r.orMark !== undefined ? (st.mark | r.orMark) >>> 0 : (st.mark ^ (r.xorMark ?? 0)) >>> 0 });
      case 'MASQUERADE':
        return [{ state: { ...st, masq: true }, end: 'ACCEPT' }];
      case 'DNAT': {
        const to = r.toDestination ?? '';
        const [ip = '', port] = to.split(':');
        return [{ state: { ...st, dst: ip, dport: port ? Number(port) : st.dport, dnatted: true, endpoint: to }, end: 'DNAT' }];
      }
      default: {
        const sub = rulesOf(chains, t);
        if (!sub) throw new Error(`tracer: jump to unknown chain ${table}/${t}`);
        return this.chain(table, t, sub, st, depth + 1).flatMap((s) => (s.end === 'return' ? next(s.state) : [s]));
      }
    }
  }

  private matches(r: ParsedRule, st: State): boolean {
    const p = this.pkt;
    if (r.proto !== undefined && r.proto !== p.protocol.toLowerCase()) return false;
    if (r.dport !== undefined && r.dport !== st.dport) return false;
    if (r.src && inCidr(st.src, r.src.cidr) === r.src.neg) return false;
    if (r.dst && inCidr(st.dst, r.dst.cidr) === r.dst.neg) return false;
    if (r.srcTypeLocal && !p.fromNode) return false;
    // After DNAT to a pod, the destination is no longer a local address.
    if (r.dstTypeLocal && !(p.dstLocal && !st.dnatted)) return false;
    if (r.mark && ((st.mark & r.mark.mask) >>> 0 === r.mark.value) === r.mark.neg) return false;
    // We trace the first packet of a connection: conntrack state NEW (and DNAT once DNATed).
    if (r.ctstate) {
      const hit = r.ctstate.states.some((s) => s === 'NEW' || (s === 'DNAT' && st.dnatted));
      if (hit === r.ctstate.neg) return false;
    }
    if (r.recent?.mode === 'rcheck' && !(p.recent?.[r.recent.name] ?? []).includes(st.src)) return false;
    return true;
  }
}

function runHook(tr: Tracer, table: IptablesTable, hook: string, st: State): Step[] {
  return tr.chain(table, hook, tr.hookRules(table, hook), st, 0);
}

/**
 * Traces the first packet of a connection through the plan's rules the way
 * the kernel would: nat PREROUTING (or OUTPUT), filter INPUT / FORWARD /
 * OUTPUT, nat POSTROUTING. Built-in chains accept by policy and hold our jump
 * rules, or the rules given for them (chains parsed from iptables-save). Random load balancing forks the trace, so every endpoint that can
 * be reached appears, with its probability.
 */
export function tracePacket(plan: Pick<IptablesPlan, 'nat' | 'filter'>, pkt: TracePacket): TraceResult {
  const tr = new Tracer(plan, pkt);
  const start: State = {
    src: pkt.src,
    dst: pkt.dst,
    dport: pkt.dport,
    dnatted: false,
    mark: 0,
    endpoint: undefined,
    masq: false,
    recentSet: [],
    path: [],
    prob: 1,
  };
  const outcomes: TraceOutcome[] = [];
  for (const n of runHook(tr, 'nat', pkt.fromNode ? 'OUTPUT' : 'PREROUTING', start)) {
    const hook = pkt.fromNode ? 'OUTPUT' : !n.state.dnatted && pkt.dstLocal ? 'INPUT' : 'FORWARD';
    for (const f of runHook(tr, 'filter', hook, n.state)) {
      if (f.end === 'REJECT' || f.end === 'DROP') {
        outcomes.push(outcome(f.state, f.end));
        continue;
      }
      const post = runHook(tr, 'nat', 'POSTROUTING', f.state);
      for (const q of post) outcomes.push(outcome(q.state, 'ACCEPT'));
    }
  }
  const accepted = outcomes.filter((o) => o.verdict === 'ACCEPT');
  return {
    outcomes,
    endpoints: [...new Set(accepted.map((o) => o.endpoint).filter((e): e is string => e !== undefined))].sort(),
    masqueraded: accepted.some((o) => o.masqueraded),
    alwaysMasqueraded: accepted.length > 0 && accepted.every((o) => o.masqueraded),
    rejected: outcomes.some((o) => o.verdict === 'REJECT'),
    dropped: outcomes.some((o) => o.verdict === 'DROP'),
  };
}

function outcome(st: State, verdict: TraceOutcome['verdict']): TraceOutcome {
  return { probability: st.prob, verdict, endpoint: st.endpoint, masqueraded: st.masq, recentSet: st.recentSet, path: st.path };
}
