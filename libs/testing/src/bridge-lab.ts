import { spawn, type ChildProcess } from 'node:child_process';
import { NetnsLab } from '@svcnet/netexec';

/** A pod namespace of a {@link BridgeLab}. */
export interface BridgeLabPod {
  ns: string;
  ip: string;
}

export interface BridgeLabOptions {
  /** Namespaces are `<prefix>-node` and `<prefix>-<pod>` (see NetnsLab). */
  prefix: string;
  /** The node's bridge address, every pod's gateway (default 10.244.1.1; pods get .10, .11, …). */
  nodeIP?: string;
  /** Per-namespace sysctls set in every namespace after creation (e.g. tcp_tw_reuse for a benchmark). */
  sysctls?: Readonly<Record<string, string>>;
}

/**
 * One "node" namespace with a bridge cbr0 and pod namespaces on it — the
 * smallest topology a proxy mode can be tested or benchmarked on without a
 * control plane. The node forwards and has a default route (a real node's
 * connects to a ClusterIP otherwise fail with ENETUNREACH before OUTPUT's
 * DNAT). Nothing is created in the root namespace: each veth is made inside
 * the node with its peer moved straight into the pod.
 */
export class BridgeLab {
  readonly lab: NetnsLab;
  readonly node: string;
  readonly nodeIP: string;
  readonly pods = new Map<string, BridgeLabPod>();
  private readonly children: ChildProcess[] = [];

  constructor(private readonly options: BridgeLabOptions) {
    this.lab = new NetnsLab({ prefix: options.prefix });
    this.node = this.lab.nsName('node');
    this.nodeIP = options.nodeIP ?? '10.244.1.1';
  }

  async create(podNames: readonly string[]): Promise<void> {
    const node = await this.lab.addNamespace('node');
    await this.lab.addBridge(node, 'cbr0');
    await this.lab.addAddress(node, 'cbr0', `${this.nodeIP}/24`);
    await this.lab.ip(node, ['route', 'add', 'default', 'dev', 'cbr0']);
    await this.lab.sysctl(node, 'net.ipv4.ip_forward', '1');
    const base = this.nodeIP.split('.').slice(0, 3).join('.');
    let n = 10;
    for (const name of podNames) {
      const ns = await this.lab.addNamespace(name);
      const ip = `${base}.${n++}`;
      const hostIf = `vh-${name}`.slice(0, 15);
      await this.lab.addVeth({ ns: node, name: hostIf, peerNs: ns, peerName: 'eth0' });
      await this.lab.attachToBridge(node, hostIf, 'cbr0');
      await this.lab.addAddress(ns, 'eth0', `${ip}/24`);
      await this.lab.addRoute(ns, 'default', this.nodeIP);
      this.pods.set(name, { ns, ip });
    }
    for (const ns of this.lab.namespaces()) {
      for (const [key, value] of Object.entries(this.options.sysctls ?? {})) await this.lab.sysctl(ns, key, value);
    }
  }

  pod(name: string): BridgeLabPod {
    const p = this.pods.get(name);
    if (!p) throw new Error(`no pod ${name}`);
    return p;
  }

  /** Runs a program inside a namespace of this lab; its stdout. */
  async run(ns: string, file: string, args: readonly string[], input?: string): Promise<string> {
    return (await this.lab.run(ns, file, args, input !== undefined ? { input } : {})).stdout;
  }

  /**
   * Starts a long-running program in a namespace (`ip netns exec` replaces
   * itself with the program, so the child's pid is the program's); killed by
   * destroy().
   */
  spawn(ns: string, file: string, args: readonly string[], env: Record<string, string> = {}): ChildProcess {
    if (!this.lab.namespaces().includes(ns)) throw new Error(`${ns} is not a namespace of lab ${this.lab.prefix}`);
    const child = spawn('ip', ['netns', 'exec', ns, file, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    this.children.push(child);
    return child;
  }

  /** Kills what spawn() started and deletes every namespace (processes inside included). */
  async destroy(): Promise<void> {
    for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await this.lab.cleanup();
  }
}
