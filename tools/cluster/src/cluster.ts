import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ProcessNetExec, type ExecResult } from '@svcnet/netexec';
import { NetnsLab } from '@svcnet/testing';
import type { statev1 } from '@svcnet/api';
import { natsUserName, NatsRole } from '@svcnet/nats-auth';
import { agentArgv, bundlePath, dnsArgv, socketBridgeArgv, svcnetctlArgv, type ExtraArgs } from './components.js';
import {
  authDir,
  credsPath,
  DEFAULT_CONTROL_PLANE,
  natsAccess,
  pkiDir,
  startControlPlane,
  stateComponent,
  svcnetctlConfigPath,
  tlsFiles,
} from './control-plane.js';
import { createKubeDns, DNS_PORT, CLUSTER_DOMAIN, removeAllResolvConfs, tenthAddress } from './dns.js';
import { buildNetwork } from './network.js';
import { addPod, deletePod, setPodReady, type AddPodOptions, type PodHost } from './pods.js';
import { isRunning, startInNetns, stopRecorded, tail } from './processes.js';
import { connectStateClient } from './state-client.js';
import {
  defaultStateDir,
  readState,
  stateFilePath,
  writeState,
  type ClusterState,
  type IptablesVariant,
  type PodRecord,
  type ProcessRecord,
  type ProxyModeName,
} from './state-file.js';
import { AgentPorts, planCluster, SERVICE_CLUSTER_IP_RANGE } from './topology.js';

/** Options of {@link Cluster.up}. */
export interface ClusterUpOptions {
  /** Prefix of every namespace (default `svcnet`). */
  name?: string;
  nodes?: number;
  proxyMode?: ProxyModeName;
  iptables?: IptablesVariant;
  /** Default /tmp/svcnet-cluster-<name>. */
  stateDir?: string;
  /** Where the built bundles are (default: this checkout). */
  repoRoot?: string;
  extraArgs?: ExtraArgs;
  /** Start the allocator and state service (when built). Default true. */
  controlPlane?: boolean;
  /** Start svcnet-dns and create kube-system/kube-dns (when built; needs the control plane). Default true. */
  dns?: boolean;
  /** Start one agent per node (when built). Default true. */
  agents?: boolean;
  /** nats-servers in the control plane, as one JetStream cluster. Default 3; 0 builds the network only (no control plane at all). */
  natsServers?: number;
  /** Per-program NATS credentials. Default true; false runs NATS without authentication. */
  natsAuth?: boolean;
  /** Mutual TLS for gRPC and TLS for NATS with a CA made now. Default true; false is plaintext everywhere. */
  tls?: boolean;
  /** State service replicas (ports 9000, 9010, …). Default 1. */
  stateReplicas?: number;
  /** Progress messages (default: none). */
  log?: (message: string) => void;
}

/** Options of {@link Cluster.exec}. */
export interface ClusterExecOptions {
  timeoutMs?: number;
  allowFailure?: boolean;
  input?: string;
}

/** This checkout's root: three levels above src/cluster.ts and dist/main.cjs alike. */
export function defaultRepoRoot(): string {
  return process.env.SVCNET_ROOT ?? fileURLToPath(new URL('../../../', import.meta.url));
}

/**
 * A local multi-node cluster in network namespaces. `Cluster.up` builds it and
 * records everything in a state file; `Cluster.open` finds it again from
 * another process; `down` removes it, also after a crash.
 */
export class Cluster implements PodHost {
  readonly lab: NetnsLab;
  private readonly exec_ = new ProcessNetExec();
  private client: statev1.StateClient | undefined;

  private constructor(public state: ClusterState) {
    this.lab = new NetnsLab({ prefix: state.name });
  }

  /** Builds a cluster; on failure removes whatever it made and rethrows. */
  static async up(opts: ClusterUpOptions = {}): Promise<Cluster> {
    const name = opts.name ?? 'svcnet';
    const plan = planCluster(name, opts.nodes ?? 2);
    const stateDir = opts.stateDir ?? defaultStateDir(name);
    const log = opts.log ?? (() => undefined);
    // A previous cluster of this name (maybe crashed) goes first.
    await Cluster.down({ name, stateDir });
    rmSync(join(stateDir, 'logs'), { recursive: true, force: true });
    const cluster = new Cluster({
      version: 1,
      name,
      stateDir,
      repoRoot: opts.repoRoot ?? defaultRepoRoot(),
      createdAt: new Date().toISOString(),
      proxyMode: opts.proxyMode ?? 'iptables',
      iptables: opts.iptables ?? 'auto',
      plan,
      sockets: {},
      skipped: [],
      processes: [],
      pods: [],
      nextVethId: 1,
    });
    cluster.save();
    try {
      log(`namespaces: ${plan.wireNs}, ${plan.controlPlane.ns}, ${plan.external.ns}, ${plan.nodes.map((n) => n.ns).join(', ')}`);
      await buildNetwork(cluster.lab, plan);
      await startControlPlane(
        cluster,
        {
          settings: {
            natsServers: opts.natsServers ?? DEFAULT_CONTROL_PLANE.natsServers,
            auth: opts.natsAuth ?? DEFAULT_CONTROL_PLANE.auth,
            tls: opts.tls ?? DEFAULT_CONTROL_PLANE.tls,
            stateReplicas: opts.stateReplicas ?? DEFAULT_CONTROL_PLANE.stateReplicas,
          },
          ...(opts.extraArgs ? { extraArgs: opts.extraArgs } : {}),
          withServices: opts.controlPlane ?? true,
        },
        log,
      );
      if (opts.dns ?? true) await cluster.startDns(opts, log);
      else cluster.state.skipped.push('dns (not requested)');
      if (opts.agents ?? true) await cluster.startAgents(opts, log);
      else cluster.state.skipped.push('agents (not requested)');
      cluster.save();
      return cluster;
    } catch (err) {
      await cluster.down();
      throw err;
    }
  }

  /** Opens a cluster recorded in `stateDir` (or the default one for `name`). */
  static open(where: { name?: string; stateDir?: string }): Cluster {
    const stateDir = where.stateDir ?? defaultStateDir(where.name ?? 'svcnet');
    const state = readState(stateDir);
    if (!state) throw new Error(`no cluster recorded in ${stateFilePath(stateDir)} (run svcnet-cluster up)`);
    return new Cluster(state);
  }

  /**
   * Removes a cluster by name even without a usable state file: stops recorded
   * processes, then deletes every `<name>-…` namespace (killing what runs there).
   */
  static async down(where: { name: string; stateDir?: string }): Promise<void> {
    const stateDir = where.stateDir ?? defaultStateDir(where.name);
    let state: ClusterState | undefined;
    try {
      state = readState(stateDir);
    } catch {
      state = undefined; // A corrupt file must not block cleanup: the prefix sweep below still runs.
    }
    if (state) {
      await new Cluster(state).down();
      return;
    }
    await new NetnsLab({ prefix: where.name }).cleanup();
    removeAllResolvConfs(where.name);
    rmSync(join(stateDir, 'nats'), { recursive: true, force: true });
    rmSync(join(stateDir, 'auth'), { recursive: true, force: true });
    rmSync(join(stateDir, 'pki'), { recursive: true, force: true });
    rmSync(stateFilePath(stateDir), { force: true });
  }

  save(): void {
    writeState(this.state);
  }

  get name(): string {
    return this.state.name;
  }

  /** Progress of the last start: components not running and why. */
  get skipped(): readonly string[] {
    return this.state.skipped;
  }

  private logFile(component: string): string {
    return join(this.state.stateDir, 'logs', `${component}.log`);
  }

  /** Starts a component in a namespace and records it at once. */
  startProcess(component: string, ns: string, argv: string[], env?: Record<string, string>): ProcessRecord {
    const rec = startInNetns({ component, ns, argv, log: this.logFile(component), ...(env ? { env } : {}) });
    this.state.processes = [...this.state.processes.filter((p) => p.component !== component), rec];
    this.save();
    return rec;
  }

  /** Waits for a TCP listener of a component; fails fast if it exits, with its log tail. */
  async waitListening(rec: ProcessRecord, port: number, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await this.exec_.run({ file: 'ss', args: ['-H', '-l', '-t', '-n', `sport = :${port}`], netns: rec.ns, allowFailure: true });
      if (r.exitCode === 0 && r.stdout.trim().length > 0) return;
      const dead = !isRunning(rec);
      if (dead || Date.now() > deadline) {
        const why = dead ? 'exited' : `not listening after ${timeoutMs} ms`;
        throw new Error(`${rec.component} ${why} (port ${port} in ${rec.ns}); ${rec.log}:\n${tail(rec.log)}`);
      }
      await new Promise((res) => setTimeout(res, 100));
    }
  }

  /**
   * Starts svcnet-dns in the control-plane namespace and creates the
   * selector-less kube-system/kube-dns service (10th address of the service
   * range) with Endpoints at the control plane's address; pods added from
   * then on get a resolv.conf pointing at it.
   */
  private async startDns(opts: ClusterUpOptions, log: (m: string) => void): Promise<void> {
    const bundle = bundlePath(this.state.repoRoot, 'dns');
    // socat creates the bridge's socket a moment after it starts.
    for (let i = 0; i < 100 && this.state.sockets.state && !existsSync(this.state.sockets.state); i++) await new Promise((r) => setTimeout(r, 50));
    const client = this.stateClient();
    if (!bundle || !client) {
      const why = !bundle ? 'bundle not built: npx nx run dns:build' : 'no state service';
      this.state.skipped.push(`dns (${why})`);
      log(`svcnet-dns NOT started: ${why}`);
      return;
    }
    const rec = this.startProcess('dns', this.state.plan.controlPlane.ns, dnsArgv(bundle, natsAccess(this.state, natsUserName(NatsRole.Dns), 'loopback'), opts.extraArgs?.dns));
    await this.waitListening(rec, DNS_PORT);
    const clusterIP = tenthAddress(SERVICE_CLUSTER_IP_RANGE);
    await createKubeDns(client, { clusterIP, serverIp: this.state.plan.controlPlane.ip });
    this.state.dns = { clusterIP, domain: CLUSTER_DOMAIN };
    this.save();
    log(`svcnet-dns: ${this.state.plan.controlPlane.ip}:${DNS_PORT}, service kube-system/kube-dns ${clusterIP} (${CLUSTER_DOMAIN})`);
  }

  /** A Unix socket in the state dir relayed to a control-plane port, so root-namespace code can talk to it. */
  startBridge(which: string, port: number): void {
    const socket = join(this.state.stateDir, `${which}.sock`);
    this.startProcess(`bridge-${which}`, this.state.plan.controlPlane.ns, socketBridgeArgv(socket, port));
    this.state.sockets[which] = socket;
    this.save();
  }

  /** Starts one agent per node (when built); `up` calls it unless `agents: false`. */
  async startAgents(opts: Pick<ClusterUpOptions, 'extraArgs'> = {}, log: (m: string) => void = () => undefined): Promise<void> {
    const bundle = bundlePath(this.state.repoRoot, 'agent');
    if (!bundle) {
      this.state.skipped.push('agents (bundle not built: npx nx run node-agent:build)');
      this.save();
      log('node agents NOT started: apps/node-agent not built');
      return;
    }
    // iptables' lock file is machine-wide, but each node namespace has its own tables:
    // one lock per cluster keeps agents from queueing behind other users of the machine.
    const env = { XTABLES_LOCKFILE: this.xtablesLock() };
    const started = this.state.plan.nodes.map((node) =>
      this.startProcess(
        `agent-${node.name}`,
        node.ns,
        agentArgv({
          bundle,
          plan: this.state.plan,
          node,
          nats: natsAccess(this.state, natsUserName(NatsRole.Agent, node.name), 'wire'),
          proxyMode: this.state.proxyMode,
          iptables: this.state.iptables,
          ...(opts.extraArgs?.agent ? { extra: opts.extraArgs.agent } : {}),
        }),
        env,
      ),
    );
    this.state.skipped = this.state.skipped.filter((s) => !s.startsWith('agents'));
    this.save();
    for (const rec of started) await this.waitListening(rec, AgentPorts.healthz);
    log(`agents (${this.state.proxyMode}): ${this.state.plan.nodes.map((n) => `${n.name}=${n.ip}`).join(' ')}`);
  }

  /** The xtables lock file the cluster's agents use (set XTABLES_LOCKFILE to it when running iptables by hand). */
  xtablesLock(): string {
    return join(this.state.stateDir, 'xtables.lock');
  }

  /** Restarts one node's agent with the same command line (e.g. to test a restart). */
  async restartAgent(node: string): Promise<ProcessRecord> {
    const fresh = await this.restartComponent(`agent-${node}`);
    await this.waitListening(fresh, AgentPorts.healthz);
    return fresh;
  }

  private recorded(component: string): ProcessRecord {
    const rec = this.state.processes.find((p) => p.component === component);
    if (!rec) throw new Error(`no component ${component}; components: ${this.state.processes.map((p) => p.component).join(', ')}`);
    return rec;
  }

  /** Kills a component (SIGKILL by default: a crash), leaving its record so it can be started again. */
  async killComponent(component: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const rec = this.recorded(component);
    if (!isRunning(rec)) return;
    try {
      process.kill(rec.pid, signal);
    } catch {
      return; // already gone
    }
    for (let i = 0; i < 100 && isRunning(rec); i++) await new Promise((r) => setTimeout(r, 50));
  }

  /** Starts a stopped or killed component again with its recorded command line and environment. */
  startComponent(component: string): ProcessRecord {
    const rec = this.recorded(component);
    if (isRunning(rec)) return rec;
    return this.startProcess(rec.component, rec.ns, rec.argv, rec.env);
  }

  /** Stops (SIGTERM) and starts a component with the same command line. */
  async restartComponent(component: string): Promise<ProcessRecord> {
    const rec = this.recorded(component);
    await stopRecorded([rec]);
    return this.startProcess(rec.component, rec.ns, rec.argv, rec.env);
  }

  /** The NATS credentials file of a user (`svcnet-admin`, `svcnet-agent-node1`…), when credentials are on. */
  natsCreds(user: string): string | undefined {
    return credsPath(this.state, user);
  }

  /** A TLS identity of the cluster's PKI (`admin`, `viewer`, `state`, `allocator`, `nats`…), when TLS is on. */
  tlsFiles(name: string): { caFile: string; certFile: string; keyFile: string } | undefined {
    return tlsFiles(this.state, name);
  }

  /** The namespace for a name: a namespace itself, a node (`node1`), a pod, or cp / ext / net. */
  resolveNs(target: string): string {
    const { plan } = this.state;
    const aliases: Record<string, string> = {
      cp: plan.controlPlane.ns,
      'control-plane': plan.controlPlane.ns,
      ext: plan.external.ns,
      external: plan.external.ns,
      net: plan.wireNs,
      wire: plan.wireNs,
    };
    const alias = aliases[target];
    if (alias) return alias;
    const node = plan.nodes.find((n) => n.name === target || n.ns === target);
    if (node) return node.ns;
    const pod = this.state.pods.find((p) => p.name === target || p.ns === target);
    if (pod) return pod.ns;
    const all = [plan.wireNs, plan.controlPlane.ns, plan.external.ns];
    if (all.includes(target)) return target;
    throw new Error(`unknown target ${JSON.stringify(target)}: use a node (node1…), a pod, cp, ext, net or a namespace name`);
  }

  /** Runs a command inside a node, pod or other namespace of the cluster. */
  async exec(target: string, argv: readonly string[], opts: ClusterExecOptions = {}): Promise<ExecResult> {
    const [file, ...args] = argv;
    if (!file) throw new Error('exec: empty command');
    return this.exec_.run({ file, args, netns: this.resolveNs(target), ...opts });
  }

  /** Runs svcnetctl inside the control-plane namespace against the state service. */
  async ctl(args: readonly string[], opts: ClusterExecOptions = {}): Promise<ExecResult> {
    const bundle = bundlePath(this.state.repoRoot, 'svcnetctl');
    if (!bundle) throw new Error('svcnetctl is not built (npx nx run svcnetctl:build)');
    const [file, ...rest] = svcnetctlArgv(bundle, args, svcnetctlConfigPath(this.state));
    return this.exec_.run({ file: file!, args: rest, netns: this.state.plan.controlPlane.ns, ...opts });
  }

  /** A State gRPC client (through the Unix-socket bridge) of replica 0, or of `replica`; undefined when it does not run. */
  stateClient(replica = 0): statev1.StateClient | undefined {
    const socket = this.state.sockets[stateComponent(replica)];
    if (!socket || !existsSync(socket)) return undefined;
    const tls = tlsFiles(this.state, 'admin');
    if (replica !== 0) return connectStateClient(socket, tls);
    this.client ??= connectStateClient(socket, tls);
    return this.client;
  }

  /** Creates a pod namespace running a command and registers it. */
  async addPod(opts: AddPodOptions): Promise<PodRecord> {
    return addPod(this, opts);
  }

  async deletePod(name: string): Promise<void> {
    await deletePod(this, name);
  }

  /** Flips a pod's readiness through state replica `replica` (default 0). */
  async setPodReady(name: string, ready: boolean, replica = 0): Promise<void> {
    await setPodReady(this, name, ready, replica);
  }

  pod(name: string): PodRecord {
    const pod = this.state.pods.find((p) => p.name === name);
    if (!pod) throw new Error(`no pod ${name}`);
    return pod;
  }

  /** The wire address of a node (its --node-ip and NodePort address). */
  nodeIp(node: string | number): string {
    const n = this.state.plan.nodes.find((x) => x.name === node || x.index === node);
    if (!n) throw new Error(`no node ${String(node)}`);
    return n.ip;
  }

  /** The log file of a component (`nats`, `state`, `agent-node1`, `pod-web`…). */
  logPath(component: string): string {
    const rec = this.state.processes.find((p) => p.component === component);
    return rec?.log ?? this.logFile(component);
  }

  /** Which recorded processes still run. */
  status(): { component: string; pid: number; ns: string; running: boolean }[] {
    return this.state.processes.map((p) => ({ component: p.component, pid: p.pid, ns: p.ns, running: isRunning(p) }));
  }

  /** Stops every recorded process and deletes every namespace of the cluster. Idempotent. */
  async down(): Promise<void> {
    this.client?.close();
    this.client = undefined;
    await stopRecorded(this.state.processes);
    for (const pod of this.state.pods) this.lab.adopt(pod.ns);
    await this.lab.cleanup();
    removeAllResolvConfs(this.state.name);
    for (const socket of Object.values(this.state.sockets)) rmSync(socket, { force: true });
    // The JetStream store belonged to this cluster only; a new `up` starts empty. Logs stay for post-mortems.
    rmSync(join(this.state.stateDir, 'nats'), { recursive: true, force: true });
    rmSync(authDir(this.state), { recursive: true, force: true });
    rmSync(pkiDir(this.state), { recursive: true, force: true });
    rmSync(stateFilePath(this.state.stateDir), { force: true });
    this.state.processes = [];
    this.state.pods = [];
  }
}
