/** The IPVS mode's plan: a printable value describing what the kernel should hold. */

/** Name of the dummy interface every ClusterIP is bound to (kube-proxy's). */
export const IPVS_DUMMY_LINK = 'kube-ipvs0';

export type IpvsProtocol = 'tcp' | 'udp' | 'sctp';

export interface RealServer {
  address: string;
  port: number;
  /** 1 for a live endpoint; 0 while a removed TCP endpoint drains. */
  weight: number;
  /**
   * Read back from the kernel only: options svcnet never sets (another forwarding method than
   * masquerade, connection thresholds), sorted. Any is drift, repaired with `-e`.
   */
  foreign?: string;
}

/** One IPVS virtual service (clusterIP:port, nodeIP:nodePort or externalIP:port). */
export interface VirtualServer {
  protocol: IpvsProtocol;
  address: string;
  port: number;
  scheduler: string;
  /** ClientIP session affinity timeout; 0 = not persistent. */
  persistenceSeconds: number;
  /** Sorted by address:port. */
  reals: RealServer[];
  /** `<ns>/<name>:<port>` this virtual service belongs to (for messages, not for the kernel). */
  serviceId: string;
  /** Read back from the kernel only: options svcnet never sets (`-M`, `-o`, `-b`, `--pe`), sorted. Any is drift. */
  foreign?: string;
}

export interface IpsetSpec {
  name: string;
  /** ipset type, e.g. `hash:ip,port` or `bitmap:port`. */
  type: string;
  /** Extra create options, e.g. `range 0-65535`. */
  createOptions: string;
  /** Sorted, in the form `ipset save` prints them. */
  members: string[];
}

/** The rules of our own iptables chains (in iptables-save's canonical form). */
export interface IptablesRules {
  nat: string[];
  filter: string[];
}

/** What one service port contributes (rendered once, reused by reference while unchanged). */
export interface IpvsFragment {
  /** The ServicePortInfo and endpoints it was rendered from (identity = unchanged). */
  sp: unknown;
  eps: unknown;
  vss: VirtualServer[];
  /** [set name, member]. */
  members: Array<[string, string]>;
  /** Addresses bound to kube-ipvs0 for it: the cluster IP and its IPv4 external IPs. */
  addresses: string[];
}

/** One changed service port: its fragment before and after (undefined = absent). */
export interface FragmentPair {
  before: IpvsFragment | undefined;
  after: IpvsFragment | undefined;
}

export interface IpvsPlan {
  /** Full sync: the backend reads the kernel instead of trusting its last apply. */
  full: boolean;
  /** Addresses bound to kube-ipvs0 (sorted). */
  addresses: string[];
  /** Sorted by key. */
  virtualServers: VirtualServer[];
  ipsets: IpsetSpec[];
  iptables: IptablesRules;
  /**
   * Addresses whose virtual services this mode owns besides kube-ipvs0's
   * (cluster and external IPs): node IPs (NodePorts). Stale services on them are removed.
   */
  ownedAddresses: string[];
  /** Per service port id (not enumerable: plans compare by their kernel content). */
  readonly fragments?: ReadonlyMap<string, IpvsFragment>;
  /** Identifies this plan (not enumerable). */
  readonly serial?: number;
  /**
   * Partial plans: the serial of the plan this one was rendered against (not the plan: that
   * would chain every plan ever made) and the service ports that changed (not enumerable).
   * The backend applies just these when the kernel holds that plan.
   */
  readonly delta?: { readonly baseSerial: number; readonly pairs: readonly FragmentPair[] };
}

/** `tcp:10.96.0.10:80` — the key of a virtual service. */
export function virtualServerKey(v: { protocol: string; address: string; port: number }): string {
  return `${v.protocol}:${v.address}:${v.port}`;
}

/** `10.0.3.2:8080` (IPv6 in brackets), as ipvsadm prints and takes it. */
export function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** ipvsadm's service selector: `-t 10.96.0.10:80`. */
export function ipvsServiceArgs(v: { protocol: IpvsProtocol; address: string; port: number }): string {
  const flag = v.protocol === 'tcp' ? '-t' : v.protocol === 'udp' ? '-u' : '--sctp-service';
  return `${flag} ${hostPort(v.address, v.port)}`;
}
