import type { NetExec } from '@svcnet/netexec';
import { BackendApplyError, ProxyMode, type ApplyResult, type ProxyBackend, type RenderInput } from '@svcnet/proxy-core';
import { pino, type Logger } from 'pino';
import type { Registry } from 'prom-client';
import { RoundRobinBalancer, endpointKey } from './balancer.js';
import type { Clock } from './clock.js';
import { ProxyMetrics } from './metrics.js';
import { renderUserspacePlan, socketsOf, type ProxyPlan, type UserspacePlan } from './plan.js';
import { ProxyPortAllocator } from './port-allocator.js';
import { parseProxyPortRange, type PortRange } from './port-range.js';
import {
  PORTAL_JUMPS,
  lineKey,
  ownedLines,
  renderPortalCleanup,
  renderPortalRestore,
  renderPortalRuleLines,
  type TableLine,
} from './portal-rules.js';
import { TcpProxySocket } from './tcp-proxy.js';
import { UdpProxySocket } from './udp-proxy.js';

/** Construction parameters of the userspace backend (the agent maps its flags onto these). */
export interface UserspaceBackendParams {
  exec: NetExec;
  /** `--proxy-port-range`: `{min,max}` or `"a-b"`; undefined, `""` or `"0"` = kernel-chosen ports. */
  proxyPortRange?: PortRange | string;
  /** Address proxy sockets bind to (default 0.0.0.0: pods reach them through REDIRECT). */
  bindAddress?: string;
  /**
   * Namespace for the iptables calls. Sockets always open in this process's own
   * namespace, so this is only right when the process already runs there.
   */
  netns?: string;
  clock?: Clock;
  logger?: Logger;
  metricsRegistry?: Registry;
  /** Idle timeout of a UDP client's upstream socket (default 250 ms, kube-proxy's `--udp-timeout`). */
  udpIdleTimeoutMs?: number;
  /** Dial timeouts per attempt (default 250, 500, 1000, 2000 ms). */
  dialTimeoutsMs?: readonly number[];
}

type ProxySocket = TcpProxySocket | UdpProxySocket;

interface Listener {
  id: string;
  protocol: 'TCP' | 'UDP';
  port: number;
  socket: ProxySocket;
}

const AFFINITY_PRUNE_MS = 60_000;

/** Same multiset of lines, order ignored (iptables-save sorts chains its own way). */
function sameLines(a: readonly TableLine[], b: readonly TableLine[]): boolean {
  if (a.length !== b.length) return false;
  const x = a.map(lineKey).sort();
  const y = b.map(lineKey).sort();
  return x.every((line, i) => line === y[i]);
}

/**
 * `--proxy-mode userspace`: the agent itself proxies each service port through
 * a socket, and portal rules in `KUBE-PORTALS-*` / `KUBE-NODEPORT-*` steer
 * service traffic to it. `apply` reconciles the sockets, then rewrites the
 * portal chains with one `iptables-restore --noflush`.
 */
export class UserspaceBackend implements ProxyBackend<UserspacePlan> {
  readonly mode = ProxyMode.userspace;
  readonly metrics: ProxyMetrics;
  private readonly exec: NetExec;
  private readonly netns: string | undefined;
  private readonly bindAddress: string;
  private readonly logger: Logger;
  private readonly balancer: RoundRobinBalancer;
  private readonly ports: ProxyPortAllocator;
  private readonly listeners = new Map<string, Listener>();
  private readonly draining = new Set<ProxySocket>();
  private readonly udpIdleTimeoutMs: number | undefined;
  private readonly dialTimeoutsMs: readonly number[] | undefined;
  /** Rules text of the last successful restore; undefined forces the next one. */
  private appliedRules: string | undefined;
  private pruneTimer: NodeJS.Timeout | undefined;

  constructor(params: UserspaceBackendParams) {
    this.exec = params.exec;
    this.netns = params.netns;
    this.bindAddress = params.bindAddress || '0.0.0.0';
    this.logger = params.logger ?? pino({ level: 'silent' });
    this.balancer = new RoundRobinBalancer(params.clock ? { clock: params.clock } : {});
    this.ports = new ProxyPortAllocator(parseProxyPortRange(params.proxyPortRange));
    this.metrics = new ProxyMetrics(params.metricsRegistry);
    this.udpIdleTimeoutMs = params.udpIdleTimeoutMs;
    this.dialTimeoutsMs = params.dialTimeoutsMs;
  }

  render(input: RenderInput<UserspacePlan>): UserspacePlan {
    return renderUserspacePlan(input, this.bindAddress);
  }

  async apply(plan: UserspacePlan): Promise<ApplyResult> {
    const started = performance.now();
    const failures = await this.reconcileSockets(plan);
    this.startPruning();
    let calls = 0;
    const rules = renderPortalRuleLines(this.portalInput(plan));
    const rulesText = rules.map(lineKey).join('\n');
    const first = this.appliedRules === undefined;
    if (plan.full || first || rulesText !== this.appliedRules) {
      let missing: readonly TableLine[] = [];
      if (plan.full || first) {
        // Only full syncs read the tables: jumps are ensured then, chains are rewritten every time.
        const save = await this.run('iptables-save', [], undefined);
        calls++;
        const present = new Set(ownedLines(save).jumps.map(lineKey));
        missing = PORTAL_JUMPS.filter((j) => !present.has(lineKey(j)));
      }
      this.appliedRules = undefined;
      await this.run('iptables-restore', ['--noflush'], renderPortalRestore(rules, missing));
      calls++;
      this.appliedRules = rulesText;
    }
    if (failures.length > 0) {
      throw new BackendApplyError(this.mode, `could not open proxy sockets: ${failures.join('; ')}`);
    }
    return { calls, durationMs: performance.now() - started };
  }

  /** The portal rules' inputs for a plan, with the ports the sockets hold now. */
  private portalInput(plan: UserspacePlan) {
    return {
      proxies: plan.proxies,
      proxyPorts: this.proxyPorts(),
      bindAddress: plan.bindAddress,
      hostPortalIP: plan.hostPortalIP,
      nodePortAddresses: plan.nodePortAddresses,
      clusterCIDR: plan.clusterCIDR,
      nodeIPs: plan.nodeIPs,
    };
  }

  describe(plan: UserspacePlan): string {
    const ports = this.proxyPorts();
    const out = [`# userspace proxy: bind ${plan.bindAddress}, node portal ${plan.hostPortalIP}`];
    for (const p of plan.proxies) {
      const aff = p.affinity.kind === 'ClientIP' ? ` affinity=ClientIP/${p.affinity.timeoutSeconds}s` : '';
      const sockets = socketsOf(p);
      if (sockets.length === 0) out.push(`# proxy ${p.id} ${p.protocol} (no endpoints)`);
      for (const [id, endpoints] of sockets) {
        const eps = endpoints.map((e) => `${e.host}:${e.port}`).join(',');
        out.push(`# proxy ${id} ${p.protocol} port=${ports.get(id) ?? '(not open)'} -> ${eps}${aff}`);
      }
    }
    for (const s of plan.skipped) out.push(`# skipped ${s.id}: ${s.reason}`);
    const rules = renderPortalRuleLines(this.portalInput(plan));
    out.push(renderPortalRestore(rules).trimEnd());
    return out.join('\n') + '\n';
  }

  async readKernelState(): Promise<string> {
    const save = await this.run('iptables-save', [], undefined);
    const { chains, jumps, rules } = ownedLines(save);
    const out = [...[...chains].sort().map((c) => `# chain ${c}`), ...[...jumps, ...rules].map(lineKey)];
    for (const l of [...this.listeners.values()].sort((a, b) => (a.id < b.id ? -1 : 1))) {
      const state = l.socket.listening ? 'listening' : 'closed';
      out.push(`# socket ${l.id} ${l.protocol} ${this.bindAddress}:${l.port} ${state} active=${l.socket.activeConnections}`);
    }
    return out.join('\n') + '\n';
  }

  async detectDrift(lastApplied: UserspacePlan): Promise<boolean> {
    for (const p of lastApplied.proxies) {
      for (const [id] of socketsOf(p)) {
        const l = this.listeners.get(id);
        if (!l || !l.socket.listening) return true;
      }
    }
    const expected = renderPortalRuleLines(this.portalInput(lastApplied));
    const save = await this.run('iptables-save', [], undefined);
    const { jumps, rules } = ownedLines(save);
    return !sameLines(rules, expected) || !sameLines(jumps, PORTAL_JUMPS);
  }

  async cleanup(): Promise<void> {
    this.stopPruning();
    const sockets = [...this.listeners.values()].map((l) => l.socket).concat([...this.draining]);
    this.listeners.clear();
    this.draining.clear();
    await Promise.all(sockets.map((s) => s.destroy()));
    this.appliedRules = undefined;
    const save = await this.run('iptables-save', [], undefined);
    const text = renderPortalCleanup(save);
    if (text) await this.run('iptables-restore', ['--noflush'], text);
  }

  /** Proxy port of every open listener, by service port id. */
  proxyPorts(): Map<string, number> {
    return new Map([...this.listeners.values()].map((l) => [l.id, l.port]));
  }

  /**
   * Closes sockets no longer wanted, opens new ones, updates endpoints. A
   * service port has a socket for its Cluster policy's endpoints and, with a
   * Local traffic policy, one for its Local policy's. Returns open failures.
   */
  private async reconcileSockets(plan: UserspacePlan): Promise<string[]> {
    const wanted = new Map<string, { p: ProxyPlan; endpoints: ProxyPlan['endpoints'] }>();
    for (const p of plan.proxies) for (const [id, endpoints] of socketsOf(p)) wanted.set(id, { p, endpoints });
    for (const [id, l] of this.listeners) {
      const w = wanted.get(id);
      if (w && w.p.protocol === l.protocol) continue;
      this.listeners.delete(id);
      this.ports.release(l.port);
      await this.retire(l);
      if (!w) {
        this.balancer.remove(id);
        this.metrics.forget(id);
      }
    }
    const failures: string[] = [];
    for (const [id, { p, endpoints }] of wanted) {
      this.balancer.update(id, endpoints, p.affinity);
      const open = this.listeners.get(id);
      if (open?.socket instanceof UdpProxySocket) {
        // UDP has no connection to end: move clients of removed endpoints now (TCP connections continue, as in kube-proxy).
        const closed = open.socket.closeSessionsExcept(new Set(endpoints.map(endpointKey)));
        if (closed > 0) this.logger.debug({ service: id, sessions: closed }, 'closed UDP sessions of removed endpoints');
      }
      if (open) continue;
      try {
        this.listeners.set(id, await this.open(id, p));
      } catch (err) {
        this.logger.error({ err, service: id }, 'cannot open proxy socket');
        failures.push(`${id}: ${(err as Error).message}`);
      }
    }
    return failures;
  }

  private async open(id: string, p: ProxyPlan): Promise<Listener> {
    const common = { id, balancer: this.balancer, metrics: this.metrics, logger: this.logger };
    let socket: ProxySocket | undefined;
    const port = await this.ports.open(async (candidate) => {
      socket =
        p.protocol === 'TCP'
          ? new TcpProxySocket({ ...common, ...(this.dialTimeoutsMs ? { dialTimeoutsMs: this.dialTimeoutsMs } : {}) })
          : new UdpProxySocket({ ...common, ...(this.udpIdleTimeoutMs ? { idleTimeoutMs: this.udpIdleTimeoutMs } : {}) });
      return socket.listen(this.bindAddress, candidate);
    });
    this.logger.info({ service: id, protocol: p.protocol, port }, 'opened proxy socket');
    return { id, protocol: p.protocol, port, socket: socket! };
  }

  /** Stops a listener; its TCP connections drain on their own (existing connections continue). */
  private async retire(l: Listener): Promise<void> {
    await l.socket.closeListener();
    this.logger.info({ service: l.id, port: l.port }, 'closed proxy socket');
    if (l.socket.activeConnections === 0) return;
    this.draining.add(l.socket);
    const check = setInterval(() => {
      if (l.socket.activeConnections > 0) return;
      clearInterval(check);
      this.draining.delete(l.socket);
    }, 1000);
    check.unref();
  }

  private startPruning(): void {
    if (this.pruneTimer) return;
    this.pruneTimer = setInterval(() => this.balancer.pruneExpired(), AFFINITY_PRUNE_MS);
    this.pruneTimer.unref();
  }

  private stopPruning(): void {
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    this.pruneTimer = undefined;
  }

  private async run(file: string, args: string[], input: string | undefined): Promise<string> {
    try {
      const r = await this.exec.run({ file, args, ...(input !== undefined ? { input } : {}), ...(this.netns ? { netns: this.netns } : {}) });
      return r.stdout;
    } catch (err) {
      throw new BackendApplyError(this.mode, `${file}: ${(err as Error).message}`, { cause: err });
    }
  }
}
