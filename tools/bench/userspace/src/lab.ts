/**
 * Namespaces for the benchmark: a node with a bridge, a server pod and a
 * client pod, all named `usp-b<id>-*`. Nothing in the root namespace changes.
 */
import { ProcessNetExec } from '@svcnet/netexec';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';

const exec = new ProcessNetExec();

export class BenchLab {
  readonly id = randomBytes(3).toString('hex');
  readonly node = `usp-b${this.id}-node`;
  readonly nodeIP = '10.244.1.1';
  readonly pods = new Map<string, { ns: string; ip: string }>();
  private readonly namespaces: string[] = [];
  private readonly children: ChildProcess[] = [];

  async ip(args: string[], netns?: string): Promise<void> {
    await exec.run({ file: 'ip', args, ...(netns ? { netns } : {}) });
  }

  async sysctl(ns: string, key: string, value: string): Promise<void> {
    await exec.run({ file: 'sysctl', args: ['-q', '-w', `${key}=${value}`], netns: ns });
  }

  async create(podNames: string[]): Promise<void> {
    await this.addNs(this.node);
    for (const args of [
      ['link', 'set', 'lo', 'up'],
      ['link', 'add', 'cbr0', 'type', 'bridge'],
      ['addr', 'add', `${this.nodeIP}/24`, 'dev', 'cbr0'],
      ['link', 'set', 'cbr0', 'up'],
      ['route', 'add', 'default', 'dev', 'cbr0'],
    ]) {
      await this.ip(args, this.node);
    }
    let n = 10;
    for (const name of podNames) {
      const ns = `usp-b${this.id}-${name}`;
      const ip = `10.244.1.${n++}`;
      await this.addNs(ns);
      // Created inside the node namespace, peer moved straight into the pod's.
      await this.ip(['link', 'add', `vh-${name}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns], this.node);
      await this.ip(['link', 'set', `vh-${name}`, 'master', 'cbr0', 'up'], this.node);
      await this.ip(['link', 'set', 'lo', 'up'], ns);
      await this.ip(['addr', 'add', `${ip}/24`, 'dev', 'eth0'], ns);
      await this.ip(['link', 'set', 'eth0', 'up'], ns);
      await this.ip(['route', 'add', 'default', 'via', this.nodeIP], ns);
      this.pods.set(name, { ns, ip });
    }
    // Many short connections: reuse TIME_WAIT ports and widen the port range (these namespaces only).
    for (const ns of this.namespaces) {
      await this.sysctl(ns, 'net.ipv4.tcp_tw_reuse', '1');
      await this.sysctl(ns, 'net.ipv4.ip_local_port_range', '10000 65000');
    }
  }

  pod(name: string): { ns: string; ip: string } {
    const p = this.pods.get(name);
    if (!p) throw new Error(`no pod ${name}`);
    return p;
  }

  /** `ip netns exec` replaces itself with the program, so the child's pid is the program's. */
  spawn(ns: string, file: string, args: string[]): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', ns, file, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.children.push(child);
    return child;
  }

  async destroy(): Promise<void> {
    for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
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
