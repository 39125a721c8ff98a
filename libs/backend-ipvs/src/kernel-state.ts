/**
 * What the kernel holds, as read back from `ipvsadm -Sn`, `ipset save`,
 * `ip addr show kube-ipvs0` and `iptables-save`: parsers are pure.
 */
import { hostPort, virtualServerKey, type IpvsProtocol, type RealServer, type VirtualServer } from './plan.js';
import type { IptablesView } from './iptables-rules.js';

/** A normalized view of IPVS mode's kernel objects (also the backend's memory of its last apply). */
export interface KernelState {
  linkExists: boolean;
  addresses: Set<string>;
  /** By virtualServerKey; reals by `addr:port`. */
  virtualServers: Map<string, VirtualServer>;
  /** Our sets only: name → type + members. */
  ipsets: Map<string, { type: string; members: Set<string> }>;
  iptables: IptablesView;
}

function splitHostPort(s: string): { address: string; port: number } {
  const m = /^\[(.+)\]:(\d+)$/.exec(s) ?? /^(.+):(\d+)$/.exec(s);
  if (!m) throw new Error(`cannot parse address:port "${s}"`);
  return { address: m[1]!, port: Number(m[2]) };
}

const protoOfFlag: Record<string, IpvsProtocol> = { '-t': 'tcp', '--tcp-service': 'tcp', '-u': 'udp', '--udp-service': 'udp', '--sctp-service': 'sctp' };

/** Options of `ipvsadm -Sn` lines that the plan sets (with their value count); the rest is foreign. */
const OWN_SERVICE_OPTIONS: Record<string, number> = { '-s': 1, '-p': 1 };
const OWN_REAL_OPTIONS: Record<string, number> = { '-r': 1, '-w': 1, '-m': 0 };

/** Options after the `-A|-a <proto> <addr:port>` head that are not in `own`, normalized and sorted. */
function foreignOptions(f: readonly string[], own: Record<string, number>): string {
  const out: string[] = [];
  for (let i = 3; i < f.length; i++) {
    const n = own[f[i]!];
    if (n !== undefined) {
      i += n;
      continue;
    }
    // A foreign option and its value(s): everything up to the next option.
    let opt = f[i]!;
    while (i + 1 < f.length && !f[i + 1]!.startsWith('-')) opt += ` ${f[++i]}`;
    out.push(opt);
  }
  return out.sort().join(' ');
}

/**
 * Parses `ipvsadm -Sn` (the same format `ipvsadm -R` reads). What the plan
 * never sets (another forwarding method, thresholds, a persistence netmask,
 * one-packet scheduling…) is kept in `foreign`, so a real server or virtual
 * service changed in place by hand is seen as drift.
 */
export function parseIpvsadmSave(text: string): Map<string, VirtualServer> {
  const out = new Map<string, VirtualServer>();
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[0] !== '-A' && f[0] !== '-a') continue;
    const protocol = protoOfFlag[f[1]!];
    if (!protocol) continue;
    const { address, port } = splitHostPort(f[2]!);
    const key = virtualServerKey({ protocol, address, port });
    const opt = (name: string): string | undefined => {
      const i = f.indexOf(name);
      return i >= 0 ? f[i + 1] : undefined;
    };
    if (f[0] === '-A') {
      const foreign = foreignOptions(f, OWN_SERVICE_OPTIONS);
      out.set(key, { protocol, address, port, scheduler: opt('-s') ?? 'wlc', persistenceSeconds: Number(opt('-p') ?? 0), reals: [], serviceId: '', ...(foreign ? { foreign } : {}) });
    } else {
      const vs = out.get(key);
      const real = opt('-r');
      if (!vs || !real) continue;
      // Masquerade is the only forwarding svcnet uses; ipvsadm prints -g (direct routing) or -i (tunnel) for the others.
      const foreign = foreignOptions(f, OWN_REAL_OPTIONS);
      vs.reals.push({ ...splitHostPort(real), weight: Number(opt('-w') ?? 1), ...(foreign ? { foreign } : {}) });
    }
  }
  for (const vs of out.values()) vs.reals.sort(compareReals);
  return out;
}

export function compareReals(a: RealServer, b: RealServer): number {
  const ka = hostPort(a.address, a.port);
  const kb = hostPort(b.address, b.port);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/** Parses `ipset save` output, keeping only the named sets. */
export function parseIpsetSave(text: string, names: ReadonlySet<string>): Map<string, { type: string; members: Set<string> }> {
  const out = new Map<string, { type: string; members: Set<string> }>();
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (!names.has(f[1] ?? '')) continue;
    if (f[0] === 'create') out.set(f[1]!, { type: f[2]!, members: new Set() });
    else if (f[0] === 'add') out.get(f[1]!)?.members.add(f[2]!);
  }
  return out;
}

/** Parses `ip -o addr show dev kube-ipvs0`: the bound addresses (without prefix length). */
export function parseLinkAddresses(text: string): Set<string> {
  const out = new Set<string>();
  for (const m of text.matchAll(/\binet6?\s+([0-9a-fA-F.:]+)\/\d+/g)) out.add(m[1]!);
  return out;
}

/** Parses `ipvsadm -Ln [-t vip:port]`: connections per real server, keyed `vsKey|addr:port`. */
export function parseConnectionCounts(text: string): Map<string, { active: number; inactive: number }> {
  const out = new Map<string, { active: number; inactive: number }>();
  let vsKey: string | undefined;
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    const proto = { TCP: 'tcp', UDP: 'udp', SCTP: 'sctp' }[f[0] ?? ''];
    if (proto && f[1]) {
      const { address, port } = splitHostPort(f[1]);
      vsKey = virtualServerKey({ protocol: proto, address, port });
    } else if (f[0] === '->' && vsKey && f.length >= 6 && /\d+$/.test(f[1] ?? '')) {
      const { address, port } = splitHostPort(f[1]!);
      out.set(`${vsKey}|${hostPort(address, port)}`, { active: Number(f[4]), inactive: Number(f[5]) });
    }
  }
  return out;
}
