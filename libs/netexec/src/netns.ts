import { ProcessNetExec, type ExecResult, type NetExec } from './net-exec.js';

/**
 * Network-namespace test hosts. Every change these helpers make happens inside a
 * namespace they were told about: links are created with `ip -n <ns>` (both veth
 * ends land in namespaces directly, never in the root one) and sysctls are
 * written under `ip netns exec`. The root namespace is never modified.
 */

/** Linux interface names are at most 15 bytes (IFNAMSIZ - 1). */
const IFNAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;
/** Namespace names become file names under /run/netns. */
const NSNAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/** A name was refused before reaching the kernel (bad characters, length, or not ours). */
export class NetnsNameError extends Error {
  override readonly name = 'NetnsNameError';
  readonly value: string;
  constructor(what: string, value: string) {
    super(`invalid ${what}: ${JSON.stringify(value)}`);
    this.value = value;
  }
}

function checkNs(ns: string): string {
  if (!NSNAME.test(ns)) throw new NetnsNameError('network namespace name', ns);
  return ns;
}

function checkIf(dev: string): string {
  if (!IFNAME.test(dev)) throw new NetnsNameError('interface name', dev);
  return dev;
}

/** Names of every network namespace on the machine (`ip netns list`). */
export async function listNetns(exec: NetExec = new ProcessNetExec()): Promise<string[]> {
  const r = await exec.run({ file: 'ip', args: ['netns', 'list'], allowFailure: true });
  if (r.exitCode !== 0) return [];
  // Lines look like "name" or "name (id: 3)".
  return r.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n.length > 0);
}

/** PIDs of every process whose network namespace is `ns` (`ip netns pids`). */
export async function netnsPids(ns: string, exec: NetExec = new ProcessNetExec()): Promise<number[]> {
  const r = await exec.run({ file: 'ip', args: ['netns', 'pids', checkNs(ns)], allowFailure: true });
  if (r.exitCode !== 0) return [];
  return r.stdout
    .split(/\s+/)
    .filter((s) => /^\d+$/.test(s))
    .map(Number)
    .filter((p) => p !== process.pid);
}

async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Sends SIGTERM, waits up to `graceMs`, then SIGKILL. Returns once all are gone. */
export async function killPids(pids: readonly number[], graceMs = 2000): Promise<void> {
  const send = (pid: number, sig: NodeJS.Signals): void => {
    try {
      process.kill(pid, sig);
    } catch {
      // Already gone: nothing to do.
    }
  };
  for (const pid of pids) send(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (pids.some(alive) && Date.now() < deadline) await sleep(50);
  for (const pid of pids.filter(alive)) send(pid, 'SIGKILL');
  const hard = Date.now() + 2000;
  while (pids.some(alive) && Date.now() < hard) await sleep(20);
}

/**
 * Kills every process inside `ns`, then deletes it. Idempotent: a missing
 * namespace is not an error.
 */
export async function deleteNetns(ns: string, exec: NetExec = new ProcessNetExec()): Promise<void> {
  checkNs(ns);
  if (!(await listNetns(exec)).includes(ns)) return;
  await killPids(await netnsPids(ns, exec));
  await exec.run({ file: 'ip', args: ['netns', 'del', ns], allowFailure: true });
}

/** Deletes every namespace whose name starts with `${prefix}-` (leftovers after a crash). */
export async function deleteNetnsByPrefix(prefix: string, exec: NetExec = new ProcessNetExec()): Promise<string[]> {
  const ours = (await listNetns(exec)).filter((n) => n.startsWith(`${prefix}-`));
  for (const ns of ours) await deleteNetns(ns, exec);
  return ours;
}

/** Parameters of a veth pair whose two ends live in two (non-root) namespaces. */
export interface VethParams {
  ns: string;
  name: string;
  peerNs: string;
  peerName: string;
}

/** Options for {@link NetnsLab}. */
export interface NetnsLabOptions {
  /** Every namespace is named `<prefix>-<name>`; also the key for leftover cleanup. */
  prefix: string;
  exec?: NetExec;
}

/**
 * A set of network namespaces made for one test or one local cluster, with the
 * handful of `ip` operations a lab needs. Only namespaces named `<prefix>-…`
 * are ever touched, so two labs with different prefixes never interfere.
 */
export class NetnsLab {
  readonly prefix: string;
  readonly exec: NetExec;
  private readonly created = new Set<string>();

  constructor(options: NetnsLabOptions) {
    if (!/^[a-z0-9][a-z0-9-]{0,20}$/.test(options.prefix)) throw new NetnsNameError('lab prefix', options.prefix);
    this.prefix = options.prefix;
    this.exec = options.exec ?? new ProcessNetExec();
  }

  /** The full namespace name for a short name. */
  nsName(short: string): string {
    return checkNs(`${this.prefix}-${short}`);
  }

  /** Namespaces this lab created (and has not deleted). */
  namespaces(): string[] {
    return [...this.created];
  }

  private own(ns: string): string {
    checkNs(ns);
    if (!ns.startsWith(`${this.prefix}-`)) throw new NetnsNameError(`namespace of lab ${this.prefix}`, ns);
    return ns;
  }

  /** Creates `<prefix>-<short>` (replacing a stale one) with loopback up; returns its name. */
  async addNamespace(short: string): Promise<string> {
    const ns = this.nsName(short);
    await deleteNetns(ns, this.exec);
    await this.exec.run({ file: 'ip', args: ['netns', 'add', ns] });
    this.created.add(ns);
    await this.ip(ns, ['link', 'set', 'lo', 'up']);
    return ns;
  }

  /** Adopts an existing namespace (e.g. recorded by an earlier process) for cleanup. */
  adopt(ns: string): void {
    this.created.add(this.own(ns));
  }

  /** Runs `ip -n <ns> <args…>`. */
  async ip(ns: string, args: readonly string[]): Promise<ExecResult> {
    return this.exec.run({ file: 'ip', args: ['-n', this.own(ns), ...args] });
  }

  /**
   * Runs several `ip` commands in one process (`ip -n <ns> -batch -`, stops at the
   * first error): far fewer process starts when the machine is busy.
   */
  async ipBatch(ns: string, commands: readonly (readonly string[])[]): Promise<ExecResult> {
    for (const c of commands) {
      for (const word of c) if (!/^[A-Za-z0-9_.:/@-]+$/.test(word)) throw new NetnsNameError('ip batch word', word);
    }
    const input = `${commands.map((c) => c.join(' ')).join('\n')}\n`;
    return this.exec.run({ file: 'ip', args: ['-n', this.own(ns), '-batch', '-'], input });
  }

  /** Runs a program inside `ns`. */
  async run(ns: string, file: string, args: readonly string[], opts: { allowFailure?: boolean; timeoutMs?: number; input?: string } = {}): Promise<ExecResult> {
    return this.exec.run({ file, args, netns: this.own(ns), ...opts });
  }

  /** Creates a veth pair directly between two namespaces and sets both ends up. */
  async addVeth(p: VethParams): Promise<void> {
    this.own(p.peerNs);
    await this.ip(p.ns, ['link', 'add', checkIf(p.name), 'type', 'veth', 'peer', 'name', checkIf(p.peerName), 'netns', p.peerNs]);
    await this.ip(p.ns, ['link', 'set', p.name, 'up']);
    await this.ip(p.peerNs, ['link', 'set', p.peerName, 'up']);
  }

  /** Creates a bridge (up) inside `ns`. */
  async addBridge(ns: string, name: string): Promise<void> {
    await this.ip(ns, ['link', 'add', checkIf(name), 'type', 'bridge']);
    await this.ip(ns, ['link', 'set', name, 'up']);
  }

  /** Enslaves `dev` to `bridge`; hairpin lets a pod reach itself through its own service. */
  async attachToBridge(ns: string, dev: string, bridge: string, opts: { hairpin?: boolean } = {}): Promise<void> {
    await this.ip(ns, ['link', 'set', checkIf(dev), 'master', checkIf(bridge)]);
    if (opts.hairpin) await this.ip(ns, ['link', 'set', dev, 'type', 'bridge_slave', 'hairpin', 'on']);
  }

  /** Adds an address such as `10.244.1.1/24` to `dev`. */
  async addAddress(ns: string, dev: string, cidr: string): Promise<void> {
    await this.ip(ns, ['addr', 'add', cidr, 'dev', checkIf(dev)]);
  }

  /** Adds a route `dst via gw` (dst may be `default`). */
  async addRoute(ns: string, dst: string, via: string): Promise<void> {
    await this.ip(ns, ['route', 'add', dst, 'via', via]);
  }

  /** Sets a sysctl inside `ns` (per-namespace keys such as net.ipv4.ip_forward). */
  async sysctl(ns: string, key: string, value: string): Promise<void> {
    if (!/^net\.[a-z0-9_.-]+$/.test(key)) throw new NetnsNameError('per-namespace sysctl key', key);
    await this.run(ns, 'sysctl', ['-q', '-w', `${key}=${value}`]);
  }

  /** Resolves once something listens on TCP `port` inside `ns` (checked with `ss`). */
  async waitForListen(ns: string, port: number, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await this.run(ns, 'ss', ['-H', '-l', '-t', '-n', `sport = :${port}`], { allowFailure: true });
      if (r.exitCode === 0 && r.stdout.trim().length > 0) return;
      if (Date.now() > deadline) throw new Error(`nothing listening on port ${port} in ${ns} after ${timeoutMs} ms`);
      await sleep(100);
    }
  }

  /** Deletes one namespace of this lab (killing its processes). */
  async deleteNamespace(ns: string): Promise<void> {
    await deleteNetns(this.own(ns), this.exec);
    this.created.delete(ns);
  }

  /** Deletes everything this lab made plus any leftover `<prefix>-…` namespace. */
  async cleanup(): Promise<void> {
    for (const ns of [...this.created]) await this.deleteNamespace(ns);
    await deleteNetnsByPrefix(this.prefix, this.exec);
  }
}

/**
 * Name for a test's namespace cluster: `base` plus `SVCNET_E2E_TAG` when set, so two
 * checkouts can run the same e2e files at once without sweeping each other's
 * namespaces (a cluster's start-up removes leftovers of its own name).
 */
export function e2eName(base: string): string {
  const tag = process.env['SVCNET_E2E_TAG'] ?? '';
  if (tag !== '' && !/^[a-z0-9]{1,6}$/.test(tag)) throw new NetnsNameError('SVCNET_E2E_TAG (1-6 of a-z0-9)', tag);
  return `${base}${tag}`;
}
