/**
 * Where a packet goes according to a plan, without a kernel: the rendered
 * rules and elements (the very text `nft -f` gets) are interpreted — the nat
 * hooks with their dispatch maps and pick chains, the filter hooks' reject of
 * services without endpoints, and postrouting's masquerade. Render bugs show
 * up in unit tests, as with the iptables backend's packet tracer. Rules of a
 * shape this interpreter does not know make it throw, so the two stay in step.
 */
import { ipInCidr as inCidr } from '@svcnet/ipam';
import type { Protocol } from '@svcnet/model';
import { elementKeyText } from './elements.js';
import { BASE_CHAINS } from './layout.js';
import { chainsOf, elementsOf, setsOf } from './plan-views.js';
import type { NftPlan } from './render.js';

/** The first packet of a new connection. */
export interface NftTracePacket {
  src: string;
  dst: string;
  dport: number;
  protocol: Protocol;
  /** Sent by the node itself (nat/filter output hooks). */
  fromNode?: boolean;
  /** The destination is one of the node's addresses (`fib daddr type local`). */
  dstLocal?: boolean;
  /** Affinity set → source addresses it holds. */
  affinity?: Readonly<Record<string, readonly string[]>>;
}

/** One way the packet can go (a numgen draw splits the trace). */
export interface NftTraceOutcome {
  probability: number;
  verdict: 'ACCEPT' | 'REJECT' | 'DROP';
  /** `ip:port` after DNAT, if DNATed. */
  endpoint: string | undefined;
  masqueraded: boolean;
  /** Affinity sets the source was recorded in. */
  affinitySet: string[];
  /** Chains traversed, in order. */
  path: string[];
}

export interface NftTraceResult {
  outcomes: NftTraceOutcome[];
  /** Endpoints of accepted outcomes, sorted, unique. */
  endpoints: string[];
  masqueraded: boolean;
  alwaysMasqueraded: boolean;
  rejected: boolean;
  dropped: boolean;
}

interface State {
  dst: string;
  dport: number;
  mark: boolean;
  endpoint: string | undefined;
  prob: number;
  path: string[];
  affinitySet: string[];
  masq: boolean;
}
type Verdict = 'ACCEPT' | 'DROP' | 'REJECT';
/** What a rule or chain leaves behind: go on with the next rule, leave the chain, or end the hook. */
type Cont = { kind: 'next' | 'return'; state: State } | { kind: 'end'; state: State; verdict: Verdict };

/**
 * A table as lookup tables, from a plan or read back from a kernel (or a
 * fake of one): element map or set → key text (`a . b . c`) → data text
 * (`goto cluster-tcp-2`, `10.244.1.2 . 8080`, '' for a set element);
 * every chain (base chains too) → its rules; set → its elements (CIDRs).
 */
export interface NftRulesetView {
  maps: ReadonlyMap<string, ReadonlyMap<string, string>>;
  chains: ReadonlyMap<string, readonly string[]>;
  sets: ReadonlyMap<string, readonly string[]>;
}
type Tables = NftRulesetView;

const tablesCache = new WeakMap<NftPlan, Tables>();
function tablesOf(plan: NftPlan): Tables {
  let t = tablesCache.get(plan);
  if (t) return t;
  const maps = new Map<string, Map<string, string>>();
  for (const [name, els] of elementsOf(plan)) {
    maps.set(name, new Map(els.map((e) => [elementKeyText(e), e.data === undefined ? '' : typeof e.data === 'string' ? e.data : `${e.data.ip} . ${e.data.port}`])));
  }
  const chains = chainsOf(plan);
  for (const [name, , rules] of BASE_CHAINS) chains.set(name, rules);
  const sets = new Map([...setsOf(plan)].map(([name, s]) => [name, [...(s.elements ?? [])]]));
  t = { maps, chains, sets };
  tablesCache.set(plan, t);
  return t;
}


/**
 * One piece of a rule at the start of `rest`: a match (fails, or lets the
 * state through, possibly split by a numgen draw), a statement, or a verdict.
 */
type Piece = { fail: true } | { states: State[]; missed?: State[] } | { conts: Cont[] };
type Handler = [RegExp, (m: RegExpExecArray, s: State) => Piece];

/** Traces the first packet of a connection through the plan's rules. */
export function traceNftPacket(plan: NftPlan, packet: NftTracePacket): NftTraceResult {
  return traceNftRuleset(tablesOf(plan), packet);
}

/** Traces the first packet of a connection through a table's rules and elements (e.g. as applied). */
export function traceNftRuleset(t: NftRulesetView, packet: NftTracePacket): NftTraceResult {
  const proto = packet.protocol.toLowerCase();
  const share = (s: State, p: number): State => ({ ...s, prob: s.prob * p });
  const pass = (...states: State[]): Piece => ({ states });
  const end = (state: State, verdict: Verdict): Piece => ({ conts: [{ kind: 'end', state, verdict }] });
  const dnatTo = (s: State, ip: string, port: string): State => ({ ...s, dst: ip, dport: Number(port), endpoint: `${ip}:${port}` });

  /** `jump`/`goto`/`drop`/`accept`/`return` as continuations of the rule that says it. */
  function verdict(v: string, s: State, depth: number): Cont[] {
    if (v === 'drop') return [{ kind: 'end', state: s, verdict: 'DROP' }];
    if (v === 'accept') return [{ kind: 'end', state: s, verdict: 'ACCEPT' }];
    if (v === 'return') return [{ kind: 'return', state: s }];
    const m = /^(goto|jump) (\S+)$/.exec(v);
    if (!m) throw new Error(`tracer: verdict ${v}`);
    // A jumped-to chain returns to the next rule; a goto returns to where the caller was called from.
    return chain(m[2]!, s, depth + 1).map((c) => (c.kind === 'return' && m[1] === 'jump' ? { kind: 'next', state: c.state } : c));
  }

  const handlers = (depth: number): Handler[] => [
    [/^ct state new/, (_m, s) => pass(s)],
    [/^meta l4proto (tcp|udp)(?! \.)/, (m, s) => (m[1] === proto ? pass(s) : { fail: true })],
    [/^ip saddr != (\S+)/, (m, s) => (inCidr(packet.src, m[1]!) ? { fail: true } : pass(s))],
    [/^ip saddr @(\S+)/, (m, s) => ((packet.affinity?.[m[1]!] ?? []).includes(packet.src) ? pass(s) : { fail: true })],
    [/^ip saddr (\d[\d./]*)/, (m, s) => (inCidr(packet.src, m[1]!.includes('/') ? m[1]! : `${m[1]!}/32`) ? pass(s) : { fail: true })],
    [/^fib saddr type local/, (_m, s) => (packet.fromNode ? pass(s) : { fail: true })],
    [/^numgen random mod (\d+) == 0/, (m, s) => ({ states: [share(s, 1 / Number(m[1]))], missed: [share(s, 1 - 1 / Number(m[1]))] })],
    [/^meta mark & \S+ == 0/, (_m, s) => (s.mark ? { fail: true } : pass(s))],
    [/^fib daddr type local/, (_m, s) => (packet.dstLocal && s.endpoint === undefined ? pass(s) : { fail: true })],
    [
      /^ip daddr @(\S+)/,
      (m, s) => {
        // A set read back from the kernel (or the fake) may also be listed among the maps: its
        // elements are addresses or CIDRs (interval sets), so membership is CIDR containment.
        const set = t.sets.get(m[1]!);
        const hit = set !== undefined ? set.some((c) => inCidr(s.dst, c)) : (t.maps.get(m[1]!)?.has(s.dst) ?? false);
        return hit ? pass(s) : { fail: true };
      },
    ],
    [/^ip daddr != (\S+)/, (m, s) => (inCidr(s.dst, m[1]!) ? { fail: true } : pass(s))],
    [
      /^(ip daddr \. )?meta l4proto \. th dport vmap @(\S+)/,
      (m, s) => {
        const v = t.maps.get(m[2]!)?.get(`${m[1] ? `${s.dst} . ` : ''}${proto} . ${s.dport}`);
        return v === undefined ? { fail: true } : { conts: verdict(v, s, depth) };
      },
    ],
    [
      /^(ct original ip daddr \. )?meta l4proto \. ct original proto-dst \. ip saddr \. ip daddr @(\S+)/,
      (m, s) => (t.maps.get(m[2]!)?.has(`${m[1] ? `${packet.dst} . ` : ''}${proto} . ${packet.dport} . ${packet.src} . ${s.dst}`) ? pass(s) : { fail: true }),
    ],
    [/^update @(\S+) \{ ip saddr \}/, (m, s) => pass({ ...s, affinitySet: [...s.affinitySet, m[1]!] })],
    [/^meta mark set meta mark \| \S+/, (_m, s) => pass({ ...s, mark: true })],
    [/^meta mark set meta mark \^ \S+/, (_m, s) => pass({ ...s, mark: false })],
    [/^dnat to (\S+):(\d+)/, (m, s) => end(dnatTo(s, m[1]!, m[2]!), 'ACCEPT')],
    [
      /^dnat ip to (ip daddr \. )?th dport \. numgen random mod (\d+) map @(\S+)/,
      (m, s) => {
        const n = Number(m[2]);
        const conts: Cont[] = [];
        for (let i = 0; i < n; i++) {
          const to = t.maps.get(m[3]!)?.get(`${m[1] ? `${s.dst} . ` : ''}${s.dport} . ${i}`);
          // No element for the draw: the map lookup fails and so does the rule.
          if (to === undefined) conts.push({ kind: 'next', state: share(s, 1 / n) });
          else conts.push({ kind: 'end', state: dnatTo(share(s, 1 / n), ...(to.split(' . ') as [string, string])), verdict: 'ACCEPT' });
        }
        return { conts };
      },
    ],
    [/^masquerade fully-random/, (_m, s) => end({ ...s, masq: true }, 'ACCEPT')],
    [/^reject with tcp reset/, (_m, s) => end(s, 'REJECT')],
    [/^reject/, (_m, s) => end(s, 'REJECT')],
    [/^(drop|accept|return|(?:jump|goto) \S+)/, (m, s) => ({ conts: verdict(m[1]!, s, depth) })],
  ];

  function rule(text: string, s: State, depth: number): Cont[] {
    const hs = handlers(depth);
    const out: Cont[] = [];
    const walk = (rest: string, st: State) => {
      rest = rest.replace(/^ *(comment ".*")?$/, '').trimStart();
      if (rest === '') {
        out.push({ kind: 'next', state: st });
        return;
      }
      for (const [re, fn] of hs) {
        const m = re.exec(rest);
        if (!m) continue;
        const piece = fn(m, st);
        if ('fail' in piece) out.push({ kind: 'next', state: st });
        else if ('conts' in piece) out.push(...piece.conts);
        else {
          for (const missed of piece.missed ?? []) out.push({ kind: 'next', state: missed });
          for (const next of piece.states) walk(rest.slice(m[0].length), next);
        }
        return;
      }
      throw new Error(`tracer: cannot read "${rest}" in rule "${text}"`);
    };
    walk(text, s);
    return out;
  }

  function chain(name: string, s0: State, depth: number): Cont[] {
    if (depth > 20) throw new Error(`tracer: chains nest too deep at ${name}`);
    const rules = t.chains.get(name);
    if (!rules) throw new Error(`tracer: no chain ${name}`);
    let live: State[] = [{ ...s0, path: [...s0.path, name] }];
    const done: Cont[] = [];
    for (const r of rules) {
      const next: State[] = [];
      for (const s of live) {
        for (const c of rule(r, s, depth)) {
          if (c.kind === 'next') next.push(c.state);
          else done.push(c);
        }
      }
      live = next;
      if (live.length === 0) break;
    }
    return [...done, ...live.map((state) => ({ kind: 'return' as const, state }))];
  }

  const start: State = { dst: packet.dst, dport: packet.dport, mark: false, endpoint: undefined, prob: 1, path: [], affinitySet: [], masq: false };
  const outcomes: NftTraceOutcome[] = [];
  const verdictOf = (c: Cont): Verdict => (c.kind === 'end' ? c.verdict : 'ACCEPT');
  /** Runs `s` through a hook; what it accepts goes on to `then`. */
  const hook = (name: string, s: State, then: (s: State) => void) => {
    for (const c of chain(name, s, 0)) {
      if (verdictOf(c) !== 'ACCEPT') outcomes.push(outcome(c.state, verdictOf(c)));
      else then(c.state);
    }
  };
  // The hooks in the kernel's order: a filter hook before DNAT (-110), the nat hook, a filter hook
  // after DNAT (input and forward come after prerouting anyway; output has its own at -90), postrouting.
  hook(packet.fromNode ? 'filter-output' : 'filter-prerouting', start, (pre) =>
    hook(packet.fromNode ? 'nat-output' : 'nat-prerouting', pre, (nat) => {
      const filterHook = packet.fromNode ? 'filter-output-post-dnat' : packet.dstLocal && nat.endpoint === undefined ? 'filter-input' : 'filter-forward';
      hook(filterHook, nat, (f) => {
        for (const post of chain('nat-postrouting', f, 0)) outcomes.push(outcome(post.state, 'ACCEPT'));
      });
    }),
  );
  const accepted = outcomes.filter((o) => o.verdict === 'ACCEPT');
  return {
    outcomes,
    endpoints: [...new Set(accepted.flatMap((o) => (o.endpoint ? [o.endpoint] : [])))].sort(),
    masqueraded: accepted.some((o) => o.masqueraded),
    alwaysMasqueraded: accepted.length > 0 && accepted.every((o) => o.masqueraded),
    rejected: outcomes.some((o) => o.verdict === 'REJECT'),
    dropped: outcomes.some((o) => o.verdict === 'DROP'),
  };
}

function outcome(s: State, verdict: NftTraceOutcome['verdict']): NftTraceOutcome {
  return { probability: s.prob, verdict, endpoint: s.endpoint, masqueraded: s.masq, affinitySet: s.affinitySet, path: s.path };
}
