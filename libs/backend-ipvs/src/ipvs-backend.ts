/**
 * IPVS proxy mode (kube-proxy's `--proxy-mode ipvs`): ClusterIPs bound to the
 * dummy kube-ipvs0, one IPVS virtual service per clusterIP:port, nodeIP:nodePort
 * and externalIP:port with masquerading real servers, ipsets + a constant set of
 * iptables rules. Sync = read (or remember) the kernel, diff, apply the minimal
 * change with one call per tool.
 */
import type { NetExec } from '@svcnet/netexec';
import { BackendApplyError, type ApplyResult, type BackendObserver, type NodeConfig, type ProxyBackend, type RenderInput } from '@svcnet/proxy-core';
import { DesiredIndex, diffDelta } from './delta.js';
import { diffIpvs, ownedVirtualServers, realLine, stateAfterApply, withDraining, type IpvsChanges, type RemovedReal } from './diff.js';
import { iptablesCleanupInput, parseIptablesSave } from './iptables-rules.js';
import { parseConnectionCounts, parseIpsetSave, parseIpvsadmSave, parseLinkAddresses, type KernelState } from './kernel-state.js';
import { IPVS_DUMMY_LINK, hostPort, ipvsServiceArgs, virtualServerKey, type IpvsPlan, type VirtualServer } from './plan.js';
import { IPSET_NAMES, RenderMemo, renderIpvsPlan } from './render.js';
import { validateIpvsScheduler, type IpvsScheduler } from './scheduler.js';

/** Injected time (ms since the epoch), for graceful-termination deadlines. */
export interface Clock {
  now(): number;
}

export interface IpvsBackendParams {
  exec: NetExec;
  /** `--ipvs-scheduler`; validated (rr, lc, wrr, sh, dh, sed, nq, mh). Default rr. */
  scheduler?: string;
  /** Run every tool inside this network namespace (tests). */
  netns?: string;
  /** Upper bound for a removed TCP real server to drain at weight 0 (default 120 s). */
  gracefulTerminationTimeoutMs?: number;
  clock?: Clock;
  /** iptables variant (`iptables-legacy-restore` …); default: the system's `iptables-restore`. */
  variant?: 'legacy' | 'nft';
  /** Node settings; cleanup() uses nodeIPs to find NodePort virtual services. */
  config?: NodeConfig;
  /** Kill one tool call after this long (default 120 s). */
  timeoutMs?: number;
  /**
   * kube-proxy's `--ipvs-strict-arp`: arp_ignore=1 and arp_announce=2 on all interfaces, so the
   * node does not answer ARP for the service addresses bound to kube-ipvs0. Default false.
   */
  strictArp?: boolean;
}

interface Draining extends RemovedReal {
  deadline: number;
}

/** Sysctls kube-proxy sets for IPVS: conntrack for masquerade, quick expiry of dead reals. */
const IPVS_SYSCTLS = ['net.ipv4.vs.conntrack=1', 'net.ipv4.vs.expire_nodest_conn=1', 'net.ipv4.vs.expire_quiescent_template=1'];
/** `--ipvs-strict-arp`: answer ARP only for addresses on the receiving interface, announce the best local source. */
const STRICT_ARP_SYSCTLS = ['net.ipv4.conf.all.arp_ignore=1', 'net.ipv4.conf.all.arp_announce=2'];

export class IpvsBackend implements ProxyBackend<IpvsPlan> {
  readonly mode = 'ipvs' as const;
  readonly scheduler: IpvsScheduler;
  private readonly exec: NetExec;
  private readonly netns: string | undefined;
  private readonly drainTimeoutMs: number;
  private readonly clock: Clock;
  private readonly iptablesSave: string;
  private readonly iptablesRestore: string;
  private readonly config: NodeConfig | undefined;
  private readonly timeoutMs: number;
  /** Kernel state after the last successful apply; undefined = read the kernel next time. */
  private known: KernelState | undefined;
  private readonly draining = new Map<string, Draining>();
  private sysctlsDone = false;
  private observer: BackendObserver | undefined;
  private readonly strictArp: boolean;
  private calls = 0;
  private readonly memo = new RenderMemo();
  /** Reference counts of the last applied plan and its serial: partial syncs diff only what changed. */
  private index: DesiredIndex | undefined;
  private appliedSerial: number | undefined;

  constructor(params: IpvsBackendParams) {
    this.exec = params.exec;
    this.scheduler = validateIpvsScheduler(params.scheduler);
    this.netns = params.netns;
    this.drainTimeoutMs = params.gracefulTerminationTimeoutMs ?? 120_000;
    this.strictArp = params.strictArp ?? false;
    this.clock = params.clock ?? { now: () => Date.now() };
    this.iptablesSave = params.variant ? `iptables-${params.variant}-save` : 'iptables-save';
    this.iptablesRestore = params.variant ? `iptables-${params.variant}-restore` : 'iptables-restore';
    this.config = params.config;
    this.timeoutMs = params.timeoutMs ?? 120_000;
  }

  /** Removed TCP real servers still draining at weight 0. */
  get pendingDrains(): number {
    return this.draining.size;
  }

  render(input: RenderInput<IpvsPlan>): IpvsPlan {
    return renderIpvsPlan({
      state: input.state,
      config: input.config,
      scheduler: this.scheduler,
      full: input.full || !input.lastApplied,
      memo: this.memo,
      lastApplied: input.lastApplied,
      changed: input.changed,
    });
  }

  private async run(file: string, args: string[], input?: string, allowFailure = false): Promise<{ stdout: string; exitCode: number }> {
    this.calls++;
    return this.exec.run({ file, args, input, netns: this.netns, allowFailure, timeoutMs: this.timeoutMs });
  }

  /** Reads IPVS mode's objects from the kernel (4 calls). */
  async readKernel(): Promise<KernelState> {
    const [addr, ipvs, ipset, ipt] = await Promise.all([
      this.run('ip', ['-o', 'addr', 'show', 'dev', IPVS_DUMMY_LINK], undefined, true),
      this.run('ipvsadm', ['-Sn']),
      this.run('ipset', ['save']),
      this.run(this.iptablesSave, []),
    ]);
    return {
      linkExists: addr.exitCode === 0,
      addresses: addr.exitCode === 0 ? parseLinkAddresses(addr.stdout) : new Set(),
      virtualServers: parseIpvsadmSave(ipvs.stdout),
      ipsets: parseIpsetSave(ipset.stdout, IPSET_NAMES),
      iptables: parseIptablesSave(ipt.stdout),
    };
  }

  async apply(plan: IpvsPlan): Promise<ApplyResult> {
    const started = performance.now();
    this.calls = 0;
    try {
      if (!this.sysctlsDone) {
        await this.run('sysctl', ['-w', ...IPVS_SYSCTLS, ...(this.strictArp ? STRICT_ARP_SYSCTLS : [])]);
        this.sysctlsDone = true;
      }
      if (!(await this.applyDelta(plan))) {
        const base = plan.full || !this.known ? await this.readKernel() : this.known;
        this.forget();
        const changes = diffIpvs(base, plan);
        const desired = this.draining.size > 0 ? new Map(plan.virtualServers.map((v) => [virtualServerKey(v), v])) : new Map<string, VirtualServer>();
        const { deleteLines, udpGone } = await this.gracefulRemovals(changes, (key) => desired.get(key));
        await this.execute(changes, deleteLines, udpGone);
        this.known = stateAfterApply(plan, [...this.draining.values()]);
        this.index = plan.fragments ? DesiredIndex.of(plan.fragments.values()) : undefined;
      }
      this.appliedSerial = plan.serial;
      return { calls: this.calls, durationMs: performance.now() - started };
    } catch (e) {
      this.forget();
      if (e instanceof BackendApplyError) throw e;
      throw new BackendApplyError('ipvs', e instanceof Error ? e.message : String(e), { cause: e });
    }
  }

  /** Until an apply succeeds, nothing about the kernel is known: the next sync reads it. */
  private forget(): void {
    this.known = undefined;
    this.index = undefined;
    this.appliedSerial = undefined;
  }

  /**
   * A partial plan rendered against the plan the kernel holds: diff and remember only the
   * changed service ports (O(change)). False when the whole plan must be diffed instead.
   */
  private async applyDelta(plan: IpvsPlan): Promise<boolean> {
    const known = this.known;
    const index = this.index;
    if (plan.full || !plan.delta || !known || !index || plan.delta.baseSerial !== this.appliedSerial) return false;
    const drainingKeys = [...this.draining.values()].map((d) => virtualServerKey(d.vs));
    const delta = diffDelta({ kernel: known, index, pairs: plan.delta.pairs, drainingKeys });
    if (!delta) return false;
    this.forget();
    const { deleteLines, udpGone } = await this.gracefulRemovals(delta.changes, delta.desired);
    await this.execute(delta.changes, deleteLines, udpGone);
    delta.commit();
    const draining = [...this.draining.values()];
    for (const key of delta.touched) {
      const want = index.vss.get(key)?.vs;
      if (want) known.virtualServers.set(key, withDraining(want, draining.filter((d) => virtualServerKey(d.vs) === key)));
      else known.virtualServers.delete(key);
    }
    this.known = known;
    this.index = index;
    return true;
  }

  private async execute(changes: IpvsChanges, deleteLines: string[], udpGone: RemovedReal[]): Promise<void> {
    // ipsets, kube-ipvs0 addresses and IPVS services do not depend on each other: one step, the
    // three tools at once (a new service needs all three; none waits for another).
    const ipvsLines = [...changes.ipvsLines, ...deleteLines];
    const step: Promise<unknown>[] = [];
    if (changes.ipsetLines.length > 0) step.push(this.run('ipset', ['-exist', 'restore'], changes.ipsetLines.join('\n') + '\n'));
    if (changes.ipLines.length > 0) step.push(this.run('ip', ['-batch', '-'], changes.ipLines.join('\n') + '\n'));
    if (ipvsLines.length > 0) step.push(this.run('ipvsadm', ['-R'], ipvsLines.join('\n') + '\n'));
    const failed = (await Promise.allSettled(step)).find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    // The rules match our sets, so they go after the sets exist.
    if (changes.iptables) {
      await this.run(this.iptablesRestore, ['--noflush'], changes.iptables).catch((err: unknown) => {
        this.observer?.iptablesRestoreFailed();
        throw err;
      });
    }
    // UDP has no connection end: flush the NAT entries so clients stop hitting a gone endpoint.
    for (const { vs, real } of udpGone) {
      await this.run('conntrack', ['-D', '-p', 'udp', '--orig-dst', vs.address, '--dst-nat', real.address], undefined, true);
    }
  }

  /**
   * kube-proxy's graceful termination: a removed TCP real server first gets
   * weight 0 (no new connections, in the same ipvsadm call as the rest of the
   * change); later syncs delete it once it has no connections or its bound
   * passed. UDP real servers go at once, with their conntrack entries.
   */
  private async gracefulRemovals(changes: IpvsChanges, desired: (key: string) => VirtualServer | undefined): Promise<{ deleteLines: string[]; udpGone: RemovedReal[] }> {
    const now = this.clock.now();
    if (this.draining.size > 0) {
      for (const [key, d] of this.draining) {
        const vs = desired(virtualServerKey(d.vs));
        const back = vs?.reals.some((r) => r.address === d.real.address && r.port === d.real.port);
        if (!vs || back) this.draining.delete(key);
      }
    }
    const deleteLines: string[] = [];
    const udpGone: RemovedReal[] = [];
    const check: Array<RemovedReal & { key: string }> = [];
    for (const r of changes.removedReals) {
      const key = `${virtualServerKey(r.vs)}|${hostPort(r.real.address, r.real.port)}`;
      const d = this.draining.get(key);
      if (r.vs.protocol === 'udp') {
        deleteLines.push(realLine('-d', r.vs, r.real));
        udpGone.push(r);
      } else if (!d) {
        if (r.real.weight !== 0) deleteLines.push(realLine('-e', r.vs, { ...r.real, weight: 0 }));
        this.draining.set(key, { vs: r.vs, real: { ...r.real, weight: 0 }, deadline: now + this.drainTimeoutMs });
      } else if (now >= d.deadline) {
        deleteLines.push(realLine('-d', r.vs, r.real));
        this.draining.delete(key);
      } else {
        check.push({ ...r, key });
      }
    }
    if (check.length === 0) return { deleteLines, udpGone };
    const counts = await this.connectionCounts([...new Map(check.map((c) => [virtualServerKey(c.vs), c.vs])).values()]);
    for (const c of check) {
      const n = counts.get(c.key);
      if (!n || n.active + n.inactive === 0) {
        deleteLines.push(realLine('-d', c.vs, c.real));
        this.draining.delete(c.key);
      }
    }
    return { deleteLines, udpGone };
  }

  /** Connections per real server: one call per virtual service when few, else one full listing. */
  private async connectionCounts(vss: IpvsPlan['virtualServers']): Promise<Map<string, { active: number; inactive: number }>> {
    if (vss.length > 4) return parseConnectionCounts((await this.run('ipvsadm', ['-Ln'])).stdout);
    const out = new Map<string, { active: number; inactive: number }>();
    for (const vs of vss) {
      const r = await this.run('ipvsadm', ['-Ln', ...ipvsServiceArgs(vs).split(' ')], undefined, true);
      for (const [k, v] of parseConnectionCounts(r.stdout)) out.set(k, v);
    }
    return out;
  }

  describe(plan: IpvsPlan): string {
    const c = diffIpvs(emptyKernelState(), plan);
    return [
      `# ip -batch - (${IPVS_DUMMY_LINK})`,
      ...c.ipLines,
      '# ipset restore',
      ...c.ipsetLines,
      '# ipvsadm -R',
      ...c.ipvsLines,
      '# iptables-restore --noflush',
      (c.iptables ?? '').trimEnd(),
    ].join('\n');
  }

  async readKernelState(): Promise<string> {
    const k = await this.readKernel();
    const lines = [`# ${IPVS_DUMMY_LINK}: ${k.linkExists ? [...k.addresses].sort().join(' ') || '(no addresses)' : '(missing)'}`, '# ipvsadm'];
    for (const vs of [...k.virtualServers.values()].sort((a, b) => (virtualServerKey(a) < virtualServerKey(b) ? -1 : 1))) {
      lines.push(`-A ${ipvsServiceArgs(vs)} -s ${vs.scheduler}${vs.persistenceSeconds ? ` -p ${vs.persistenceSeconds}` : ''}`);
      for (const r of vs.reals) lines.push(realLine('-a', vs, r));
    }
    lines.push('# ipsets');
    for (const [name, s] of [...k.ipsets].sort()) lines.push(`${name} ${s.type}: ${[...s.members].sort().join(' ')}`);
    lines.push('# iptables', ...k.iptables.rules.nat, ...k.iptables.rules.filter);
    return lines.join('\n') + '\n';
  }

  async detectDrift(lastApplied: IpvsPlan): Promise<boolean> {
    const c = diffIpvs(await this.readKernel(), lastApplied);
    const draining = c.removedReals.every((r) => this.draining.has(`${virtualServerKey(r.vs)}|${hostPort(r.real.address, r.real.port)}`));
    return c.ipLines.length + c.ipsetLines.length + c.ipvsLines.length > 0 || c.iptables !== undefined || !draining;
  }

  observe(observer: BackendObserver): void {
    this.observer = observer;
  }

  /** Removes kube-ipvs0, our virtual services, our ipsets and our iptables chains (and only those). */
  async cleanup(): Promise<void> {
    const k = await this.readKernel();
    const restore = iptablesCleanupInput(k.iptables);
    if (restore) await this.run(this.iptablesRestore, ['--noflush'], restore);
    const owned = ownedVirtualServers(k, { ...emptyPlan(), ownedAddresses: [...(this.config?.nodeIPs ?? [])] });
    if (owned.length > 0) await this.run('ipvsadm', ['-R'], owned.map((v) => `-D ${ipvsServiceArgs(v)}`).join('\n') + '\n');
    if (k.linkExists) await this.run('ip', ['link', 'del', IPVS_DUMMY_LINK]);
    const sets = [...k.ipsets.keys()];
    if (sets.length > 0) await this.run('ipset', ['restore'], sets.map((s) => `destroy ${s}`).join('\n') + '\n');
    this.known = undefined;
    this.draining.clear();
  }
}

function emptyPlan(): IpvsPlan {
  return { full: true, addresses: [], virtualServers: [], ipsets: [], iptables: { nat: [], filter: [] }, ownedAddresses: [] };
}

/** A kernel with none of IPVS mode's objects. */
export function emptyKernelState(): KernelState {
  return {
    linkExists: false,
    addresses: new Set(),
    virtualServers: new Map(),
    ipsets: new Map(),
    iptables: { rules: { nat: [], filter: [] }, chains: new Set(), jumps: new Set(), jumpLines: new Map([['nat', []], ['filter', []]]) },
  };
}
