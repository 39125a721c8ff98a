import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { versionLine } from '@svcnet/service-runtime';
import { Cluster } from './cluster.js';
import { bundlePath, svcnetctlArgv } from './components.js';
import { svcnetctlConfigPath } from './control-plane.js';
import { parseLabels, parsePortSpec, type PodPort } from './pods.js';
import { toolPath } from './processes.js';
import { IptablesVariant, ProxyModeName, defaultStateDir, withStateLock } from './state-file.js';

// svcnet-cluster: a local multi-node cluster in network namespaces (see README.md).

interface Where {
  name: string;
  stateDir?: string;
}

function say(message: string): void {
  process.stderr.write(`svcnet-cluster: ${message}\n`);
}

function withWhere(cmd: Command): Command {
  return cmd
    .option('--name <prefix>', 'cluster name: prefix of every namespace', process.env.SVCNET_CLUSTER ?? 'svcnet')
    .option('--state-dir <dir>', 'where the state file and logs live (default /tmp/svcnet-cluster-<name>)');
}

/** Opens the cluster under the state lock (fresh state), for commands that change it. */
async function locked(w: Where, fn: (cluster: Cluster) => Promise<void>): Promise<void> {
  await withStateLock(w.stateDir ?? defaultStateDir(w.name), async () => fn(Cluster.open(w)));
}

function where(o: { name: string; stateDir?: string }): Where {
  return { name: o.name, ...(o.stateDir ? { stateDir: o.stateDir } : {}) };
}

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

/** Runs a program inside a namespace with the terminal attached; returns its exit code. */
function runAttached(ns: string, argv: readonly string[], env: Record<string, string> = {}): number {
  const r = spawnSync('ip', ['netns', 'exec', ns, ...argv], { stdio: 'inherit', env: { ...process.env, PATH: toolPath(), ...env } });
  if (r.error) throw r.error;
  return r.status ?? 128;
}

/** With passThroughOptions commander keeps a `--` that follows the first operand: drop it. */
function operands(args: string[]): string[] {
  return args[0] === '--' ? args.slice(1) : args;
}

function buildProgram(): Command {
  const program = new Command('svcnet-cluster')
    .description('A local multi-node svcnet cluster built from network namespaces (root only; never touches the root namespace)')
    .version(versionLine('svcnet-cluster'), '--version', 'print the version, commit and build date')
    .enablePositionalOptions();

  withWhere(program.command('up').description('create the namespaces and start nats, allocator, state, svcnet-dns and one agent per node'))
    .option('--nodes <n>', 'number of nodes', positiveInt, 2)
    .addOption(new Option('--proxy-mode <mode>', 'agents\u2019 proxy mode').choices(Object.values(ProxyModeName)).default('iptables'))
    .addOption(new Option('--iptables <variant>', 'iptables binaries the agents use').choices(Object.values(IptablesVariant)).default('auto'))
    .option('--no-agents', 'do not start node agents')
    .option('--dns-arg <arg...>', 'extra flags for svcnet-dns (e.g. --dns-arg=--ttl=1s)')
    .option('--agent-arg <arg...>', 'extra flags for every agent (e.g. --agent-arg=--sync-period=5s)')
    .option('--nats-cluster <n>', 'nats-servers in the control plane, as one JetStream cluster (buckets get min(3, n) replicas)', positiveInt, 3)
    .addOption(new Option('--nats-auth <mode>', 'per-program NATS credentials, or none (plain NATS, for a quick local try)').choices(['creds', 'none']).default('creds'))
    .option('--state-replicas <n>', 'svcnet-state replicas (gRPC on 9000, 9010, …)', positiveInt, 1)
    .option('--no-tls', 'plaintext gRPC and NATS (for a quick local try); by default a CA is made and every connection uses TLS')
    .action(async (o: Where & { nodes: number; proxyMode: ProxyModeName; iptables: IptablesVariant; agents: boolean; agentArg?: string[]; dnsArg?: string[]; natsCluster: number; natsAuth: string; stateReplicas: number; tls: boolean }) => {
      const cluster = await Cluster.up({
        ...where(o),
        nodes: o.nodes,
        proxyMode: o.proxyMode,
        iptables: o.iptables,
        agents: o.agents,
        natsServers: o.natsCluster,
        natsAuth: o.natsAuth !== 'none',
        stateReplicas: o.stateReplicas,
        tls: o.tls,
        extraArgs: { ...(o.agentArg ? { agent: o.agentArg } : {}), ...(o.dnsArg ? { dns: o.dnsArg } : {}) },
        log: say,
      });
      for (const s of cluster.skipped) say(`not started: ${s}`);
      say(`cluster ${cluster.name} is up; state in ${cluster.state.stateDir}`);
      printStatus(cluster);
    });

  withWhere(program.command('down').description('stop every process and delete every namespace of the cluster (idempotent)')).action(
    async (o: Where) => {
      await Cluster.down(where(o));
      say(`cluster ${o.name} is down`);
    },
  );

  withWhere(program.command('status').description('nodes, pods and processes of the cluster'))
    .option('--json', 'print the recorded state (plan, pods, processes with a running flag) as JSON')
    .action((o: Where & { json?: boolean }) => {
      const cluster = Cluster.open(where(o));
      if (!o.json) return printStatus(cluster);
      const running = new Map(cluster.status().map((p) => [p.component, p.running]));
      const processes = cluster.state.processes.map((p) => ({ ...p, running: running.get(p.component) ?? false }));
      process.stdout.write(`${JSON.stringify({ ...cluster.state, processes }, null, 2)}\n`);
    });

  withWhere(program.command('logs').description('print a component\u2019s log (nats, allocator, state, agent-node1, pod-<name>…)'))
    .argument('<component>')
    .action((component: string, o: Where) => {
      const cluster = Cluster.open(where(o));
      const path = cluster.logPath(component);
      if (!existsSync(path)) {
        const known = cluster.state.processes.map((p) => p.component).join(', ');
        throw new Error(`no log for ${JSON.stringify(component)}; components: ${known}`);
      }
      process.stdout.write(readFileSync(path));
    });

  withWhere(program.command('exec').description('run a command in a node, pod, cp, ext or net namespace'))
    .argument('<target>')
    .argument('<command...>')
    .passThroughOptions()
    .action((target: string, command: string[], o: Where) => {
      const cluster = Cluster.open(where(o));
      // Share the agents' xtables lock so a hand-run iptables waits for them, not for strangers.
      process.exitCode = runAttached(cluster.resolveNs(target), operands(command), { XTABLES_LOCKFILE: cluster.xtablesLock() });
    });

  withWhere(program.command('ctl').description('run svcnetctl against the cluster (inside the control-plane namespace)'))
    .argument('[args...]')
    .passThroughOptions()
    .allowUnknownOption()
    .action((args: string[], o: Where) => {
      const cluster = Cluster.open(where(o));
      const bundle = bundlePath(cluster.state.repoRoot, 'svcnetctl');
      if (!bundle) throw new Error('svcnetctl is not built (npx nx run svcnetctl:build)');
      process.exitCode = runAttached(cluster.state.plan.controlPlane.ns, svcnetctlArgv(bundle, operands(args), svcnetctlConfigPath(cluster.state)));
    });

  const pod = program.command('pod').description('pods: namespaces on a node\u2019s bridge, registered with the state service');
  withWhere(pod.command('add').description('create a pod running a command: pod add web --node 1 --port http:8080 -- socat …'))
    .argument('<name>')
    .argument('[command...]')
    .requiredOption('--node <node>', 'node name or index')
    .option('--namespace <ns>', 'namespace the pod is registered in', 'default')
    .option('--labels <k=v,...>', 'labels', '')
    .option('--port <spec...>', 'container ports [name:]port[/TCP|UDP|SCTP]')
    .option('--not-ready', 'register the pod as not ready')
    .action(async (name: string, command: string[], o: Where & { node: string; namespace: string; labels: string; port?: string[]; notReady?: boolean }) => {
      const ports: PodPort[] = (o.port ?? []).map(parsePortSpec);
      const node = /^\d+$/.test(o.node) ? Number(o.node) : o.node;
      const labels = parseLabels(o.labels);
      await locked(where(o), async (cluster) => {
        const rec = await cluster.addPod({ name, node, namespace: o.namespace, labels, ports, ready: !o.notReady, command: operands(command) });
        say(`pod ${rec.name} on ${rec.node}: ${rec.ip}${rec.registered ? '' : ' (not registered: no state service)'}`);
      });
    });
  withWhere(pod.command('del').description('delete a pod (unregister, kill, delete its namespace)'))
    .argument('<name>')
    .action(async (name: string, o: Where) => {
      await locked(where(o), (cluster) => cluster.deletePod(name));
    });
  withWhere(pod.command('ready').description('set a pod\u2019s readiness'))
    .argument('<name>')
    .argument('<ready>', 'true or false')
    .action(async (name: string, ready: string, o: Where) => {
      if (ready !== 'true' && ready !== 'false') throw new InvalidArgumentError('ready must be true or false');
      await locked(where(o), (cluster) => cluster.setPodReady(name, ready === 'true'));
    });
  return program;
}

function printStatus(cluster: Cluster): void {
  const { plan, pods } = cluster.state;
  const running = new Map(cluster.status().map((p) => [p.component, p]));
  const mark = (component: string): string => {
    const p = running.get(component);
    return p ? `${component}(pid ${p.pid}, ${p.running ? 'running' : 'DEAD'})` : `${component}(not started)`;
  };
  const lines = [
    `cluster ${cluster.name}: proxy mode ${cluster.state.proxyMode}, iptables ${cluster.state.iptables}`,
    `  control plane ${plan.controlPlane.ns} ${plan.controlPlane.ip}: ${['nats', 'allocator', 'state', 'dns'].map(mark).join(' ')}`,
    ...(cluster.state.dns ? [`  dns           kube-system/kube-dns ${cluster.state.dns.clusterIP} (${cluster.state.dns.domain}), pods' resolv.conf in /etc/netns/<pod>`] : []),
    `  external      ${plan.external.ns} ${plan.external.ip}`,
    ...plan.nodes.map((n) => `  ${n.name.padEnd(13)} ${n.ns} ${n.ip} pods ${n.podCidr}: ${mark(`agent-${n.name}`)}`),
    ...pods.map((p) => `  pod ${p.namespace}/${p.name} on ${p.node} ${p.ip} ready=${p.ready} ${mark(`pod-${p.name}`)}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

buildProgram()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    say(err instanceof Error ? err.message : String(err));
    process.exitCode = 1;
  });
