/**
 * A node namespace with a bridge and pod namespaces on it, for the userspace
 * mode's kernel test. Everything lives in namespaces named `usp-<id>-*`; the
 * root namespace is never touched. (Backend libs may not depend on
 * @svcnet/testing, so this small harness is local.)
 */
import { ProcessNetExec } from '@svcnet/netexec';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';

const exec = new ProcessNetExec();

export interface LabPod {
  ns: string;
  ip: string;
}

export class UspLab {
  readonly id = randomBytes(3).toString('hex');
  readonly node = `usp-${this.id}-node`;
  readonly nodeIP = '10.244.1.1';
  readonly pods = new Map<string, LabPod>();
  private readonly children: ChildProcess[] = [];
  private readonly namespaces: string[] = [];

  async ip(args: string[], netns?: string): Promise<string> {
    return (await exec.run({ file: 'ip', args, ...(netns ? { netns } : {}) })).stdout;
  }

  async run(ns: string, file: string, args: string[], input?: string): Promise<string> {
    return (await exec.run({ file, args, netns: ns, ...(input !== undefined ? { input } : {}) })).stdout;
  }

  async create(podNames: string[]): Promise<void> {
    await this.addNs(this.node);
    await this.ip(['link', 'set', 'lo', 'up'], this.node);
    await this.ip(['link', 'add', 'cbr0', 'type', 'bridge'], this.node);
    await this.ip(['addr', 'add', `${this.nodeIP}/24`, 'dev', 'cbr0'], this.node);
    await this.ip(['link', 'set', 'cbr0', 'up'], this.node);
    // A real node has a default route; without one, the node's own connects to a
    // ClusterIP fail with ENETUNREACH before OUTPUT's DNAT can run.
    await this.ip(['route', 'add', 'default', 'dev', 'cbr0'], this.node);
    // A node forwards (pod traffic to a ClusterIP without endpoints must reach FORWARD's REJECT).
    await exec.run({ file: 'sysctl', args: ['-q', '-w', 'net.ipv4.ip_forward=1'], netns: this.node });
    let n = 10;
    for (const name of podNames) {
      const ns = `usp-${this.id}-${name}`;
      const ip = `10.244.1.${n++}`;
      const hostIf = `vh-${name}`.slice(0, 15);
      await this.addNs(ns);
      // Created inside the node namespace with the peer moved straight into the pod's: no link in the root namespace.
      await this.ip(['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns], this.node);
      await this.ip(['link', 'set', hostIf, 'master', 'cbr0', 'up'], this.node);
      await this.ip(['link', 'set', 'lo', 'up'], ns);
      await this.ip(['addr', 'add', `${ip}/24`, 'dev', 'eth0'], ns);
      await this.ip(['link', 'set', 'eth0', 'up'], ns);
      await this.ip(['route', 'add', 'default', 'via', this.nodeIP], ns);
      this.pods.set(name, { ns, ip });
    }
  }

  pod(name: string): LabPod {
    const p = this.pods.get(name);
    if (!p) throw new Error(`no pod ${name}`);
    return p;
  }

  /** Starts a long-running program in a namespace; killed by destroy(). */
  spawn(ns: string, file: string, args: string[], env: Record<string, string> = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', ns, file, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    this.children.push(child);
    return child;
  }

  async destroy(): Promise<void> {
    for (const c of this.children) if (c.exitCode === null && c.pid) c.kill('SIGKILL');
    for (const ns of [...this.namespaces].reverse()) {
      const pids = (await exec.run({ file: 'ip', args: ['netns', 'pids', ns], allowFailure: true })).stdout.split('\n').filter(Boolean);
      for (const pid of pids) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await exec.run({ file: 'ip', args: ['netns', 'del', ns], allowFailure: true });
    }
  }

  private async addNs(ns: string): Promise<void> {
    await this.ip(['netns', 'add', ns]);
    this.namespaces.push(ns);
  }
}

/** Line-oriented JSON client for driver.ts running under `ip netns exec`. */
export class DriverClient {
  private buffer = '';
  private readonly waiting: Array<(line: string) => void> = [];

  constructor(private readonly child: ChildProcess) {
    child.stdout!.on('data', (d: Buffer) => {
      this.buffer += String(d);
      let i: number;
      while ((i = this.buffer.indexOf('\n')) >= 0) {
        const line = this.buffer.slice(0, i);
        this.buffer = this.buffer.slice(i + 1);
        this.waiting.shift()?.(line);
      }
    });
  }

  /** Waits for the driver's ready line. */
  ready(): Promise<Record<string, unknown>> {
    return new Promise((resolve) => this.waiting.push((l) => resolve(JSON.parse(l) as Record<string, unknown>)));
  }

  async send<T = Record<string, unknown>>(command: object): Promise<T & { ok: boolean; error?: string }> {
    const reply = new Promise<string>((resolve) => this.waiting.push(resolve));
    this.child.stdin!.write(JSON.stringify(command) + '\n');
    const r = JSON.parse(await reply) as T & { ok: boolean; error?: string };
    if (!r.ok) throw new Error(`driver: ${r.error}`);
    return r;
  }
}
