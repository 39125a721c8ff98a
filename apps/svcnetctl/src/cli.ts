/**
 * The svcnetctl command line (commander). Wires flags to the commands and turns
 * every outcome into an exit code: 0 ok, 1 failed, 2 usage error.
 */
import { Command, CommanderError, Option } from 'commander';
import { parseDuration } from '@svcnet/model';
import { ExitCode, UsageError, describeFailure } from './cli-errors.js';
import { runApply } from './commands/apply.js';
import type { CliIo, CommandContext } from './commands/context.js';
import { runDelete, type DeleteOptions } from './commands/delete.js';
import { runDescribe } from './commands/describe.js';
import { runExpose, type ExposeOptions } from './commands/expose.js';
import { runGet, type GetOptions } from './commands/get.js';
import { runTrace, type TraceOptions } from './commands/trace.js';
import { nodeNames, runDescribeNodes, runGetNodes } from './commands/nodes.js';
import { DEFAULT_WAIT_TIMEOUT_MS, runWait } from './commands/wait.js';
import { runCertsInit, runCertsIssue, type CertsInitOptions, type CertsIssueOptions } from './commands/certs.js';
import { runNatsInit, runNatsIssue, type NatsInitOptions, type NatsIssueOptions } from './commands/nats.js';
import type { ClientTlsOptions, StateApi } from '@svcnet/client';
import { DEFAULT_SERVER, resolveConnection, type ConnectionFlags } from './config.js';
import { versionLine } from '@svcnet/service-runtime';

export { DEFAULT_SERVER };

export interface CliDeps {
  io: CliIo;
  env: Readonly<Record<string, string | undefined>>;
  /** Opens the state API; called at most once, only by commands that need it. */
  connect(params: { server: string; timeoutMs: number; verbosity: number; tls: ClientTlsOptions | undefined }): StateApi;
  /** A config file's text, or undefined when it does not exist (default: none exist). */
  readText?(path: string): string | undefined;
  /** The user's home directory (for ~/.svcnet/config). */
  home?: string;
}

interface GlobalOptions extends ConnectionFlags {
  namespace?: string;
  requestTimeout: string;
  v: string;
}

/** kubectl's --request-timeout: a Go duration (`30s`, `1m30s`, `500ms`) or plain seconds. */
export function parseRequestTimeout(text: string): number {
  try {
    return parseDuration(text, 'request-timeout', { bareSeconds: true });
  } catch {
    throw new UsageError(`invalid duration "${text}": use e.g. 30s, 2m, 500ms`);
  }
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export async function runCli(argv: readonly string[], deps: CliDeps): Promise<ExitCode> {
  let api: StateApi | undefined;
  let exitCode: ExitCode = ExitCode.Ok;
  const program = new Command('svcnetctl');

  const context = (): CommandContext => {
    const g = program.opts<GlobalOptions>();
    const conn = resolveConnection(g, { env: deps.env, readText: deps.readText ?? (() => undefined), home: deps.home });
    const timeoutMs = parseRequestTimeout(g.requestTimeout);
    api ??= deps.connect({ server: conn.server, timeoutMs, verbosity: Number(g.v) || 0, tls: conn.tls });
    const namespace = g.namespace ?? conn.namespace;
    return { io: deps.io, api, namespace: namespace ?? 'default', namespaceExplicit: g.namespace !== undefined };
  };

  program
    .description('svcnetctl controls svcnet services, pods and endpoints (kubectl habits, svcnet.v1.State over gRPC).')
    .option('--svcnetconfig <file>', 'config file with servers, certificates and contexts (env SVCNETCONFIG, default ~/.svcnet/config)')
    .option('--context <name>', 'the context of the config file to use')
    .option(
      '-s, --server <address>',
      `state service address(es), comma-separated for replicas; http:// means plaintext (env SVCNET_SERVER, default ${DEFAULT_SERVER})`,
    )
    .option('--certificate-authority <file>', 'CA bundle that signed the server certificate')
    .option('--client-certificate <file>', 'client certificate (its Organization decides what you may do: svcnet:viewers, svcnet:editors)')
    .option('--client-key <file>', 'key of --client-certificate')
    .option('--insecure-skip-tls-verify', "do not check the server certificate (makes the connection insecure)")
    .option('-n, --namespace <namespace>', 'namespace of the request (default "default")')
    .option('--request-timeout <duration>', 'deadline of each request', '30s')
    .option('-v, --v <level>', 'log verbosity (pino JSON on stderr; 6+ logs every request)', '0')
    .version(versionLine('svcnetctl'), '--version', 'print the version, commit and build date')
    .exitOverride()
    .configureOutput({ writeOut: (s) => deps.io.stdout(s), writeErr: (s) => deps.io.stderr(s) })
    .showSuggestionAfterError();

  program
    .command('get')
    .description('Display one or many resources: services (svc), pods (po), endpoints (ep), all (pods and services), or nodes (no)')
    .argument('<type-or-type/name...>', 'resource type and optional names, or type/name pairs')
    .option('-A, --all-namespaces', 'list across all namespaces')
    .option('-o, --output <format>', 'wide | json | yaml | name')
    .option('-l, --selector <selector>', 'label selector, k=v[,k2=v2]')
    .option('--show-labels', 'show all labels as the last column')
    .option('--ignore-not-found', 'treat "resource not found" as a successful retrieval')
    .option('-w, --watch', 'after listing, print every change (State.Watch) until interrupted')
    .action(async (args: string[], opts: GetOptions) => {
      const nodes = nodeNames(args);
      if (nodes && (opts.watch || opts.selector || opts.allNamespaces)) throw new UsageError('nodes take no -w, -l or -A');
      exitCode = nodes ? await runGetNodes(context(), nodes, opts) : await runGet(context(), args, opts);
    });

  program
    .command('describe')
    .description('Show details of a service, pod, endpoints or node (with its last sync errors)')
    .argument('<type-or-type/name...>', 'resource type and optional names')
    .action(async (args: string[]) => {
      const nodes = nodeNames(args);
      exitCode = nodes ? await runDescribeNodes(context(), nodes) : await runDescribe(context(), args);
    });

  program
    .command('apply')
    .description('Create or update objects from Kubernetes-shaped YAML (v1 Service, Pod, Endpoints)')
    .requiredOption('-f, --filename <path>', 'file, directory or - for stdin (repeatable)', collect)
    .option('--wait', 'then wait until every Ready node has programmed what was applied')
    .option('--timeout <duration>', 'how long --wait waits', '30s')
    .action(async (opts: { filename: string[]; wait?: boolean; timeout: string }) => {
      exitCode = await runApply(context(), opts.filename, { wait: opts.wait === true, timeoutMs: parseDuration(opts.timeout) });
    });

  program
    .command('wait')
    .description('Wait until every Ready node has programmed the last change of each service: --for=programmed service/NAME')
    .argument('<type/name...>', 'services, e.g. service/web')
    .requiredOption('--for <condition>', 'the condition: programmed')
    .option('--timeout <duration>', 'give up after this long (exit 1, naming the nodes that have not)', `${DEFAULT_WAIT_TIMEOUT_MS / 1000}s`)
    .action(async (args: string[], opts: { for: string; timeout: string }) => {
      exitCode = await runWait(context(), args, { for: opts.for, timeoutMs: parseDuration(opts.timeout) });
    });

  program
    .command('delete')
    .description('Delete objects by file (-f) or by type and name')
    .argument('[type-or-type/name...]', 'resource type and names')
    .option('-f, --filename <path>', 'file, directory or - for stdin (repeatable)', collect)
    .option('--ignore-not-found', 'treat "resource not found" as a successful delete')
    .action(async (args: string[], opts: DeleteOptions) => {
      exitCode = await runDelete(context(), args, opts);
    });

  program
    .command('expose')
    .description("Expose a pod (selector = its labels) or a service (its selector) as a new service")
    .argument('<type>', 'pod (po) or service (svc)')
    .argument('<name>', 'the pod or service to expose')
    .option('--port <port>', 'the port the service serves on (default: introspected)')
    .option('--target-port <port>', 'number or name of the port on the pods (default: --port)')
    .option('--name <name>', 'name of the new service (default: the exposed object\'s)')
    .addOption(new Option('--type <type>', 'service type').choices(['ClusterIP', 'NodePort', 'LoadBalancer']))
    .addOption(new Option('--protocol <protocol>', 'protocol of the port').choices(['TCP', 'UDP', 'SCTP']))
    .option('--selector <selector>', 'k=v[,k2=v2] instead of the introspected one')
    .option('-l, --labels <labels>', 'labels of the new service (default: the exposed object\'s)')
    .option('--cluster-ip <ip>', 'a ClusterIP to request, or None for a headless service')
    .option('--external-ip <ips>', 'external IPs, comma-separated')
    .addOption(new Option('--session-affinity <affinity>', 'None or ClientIP').choices(['None', 'ClientIP']))
    .option('-o, --output <format>', 'json | yaml | name')
    .option('--dry-run <mode>', 'none or client (print the service without creating it)')
    .action(async (type: string, name: string, opts: ExposeOptions) => {
      exitCode = await runExpose(context(), type, name, opts);
    });

  const certs = program.command('certs').description("Create the cluster's CA and certificates (with the system's openssl), as kubeadm's certs phase");
  certs
    .command('init')
    .description('A CA, the state and allocator serving certificates, the state→allocator client certificate, a NATS serving certificate, admin (svcnet:editors) and viewer (svcnet:viewers) client certificates, and a svcnetctl config')
    .requiredOption('--dir <dir>', 'where to write them (keys 0600)')
    .option('--server-hosts <hosts>', 'IPs and DNS names the servers are reached at (SANs; 127.0.0.1 and localhost always)')
    .option('--state-server <addresses>', 'state service address(es) for the written config (default <first host>:9402)')
    .option('--days <n>', 'validity of the certificates', '365')
    .action(async (o: CertsInitOptions) => {
      await runCertsInit(deps.io, o);
    });
  certs
    .command('issue')
    .description('One more certificate signed by the CA in --dir (a user: --org svcnet:viewers|svcnet:editors; a server: --server --hosts)')
    .requiredOption('--dir <dir>', 'the directory with ca.crt and ca.key')
    .requiredOption('--name <name>', 'file name: <dir>/<name>.crt and .key')
    .option('--common-name <cn>', 'the certificate Common Name (default: --name)')
    .option('--org <organization>', 'an Organization (repeatable): svcnet:viewers or svcnet:editors', collect)
    .option('--serving', 'a serving certificate instead of a client one')
    .option('--hosts <hosts>', 'SANs of a serving certificate')
    .option('--days <n>', 'validity', '365')
    .action(async (o: CertsIssueOptions) => {
      await runCertsIssue(deps.io, o);
    });

  const nats = program.command('nats').description("NATS credentials: an operator, the svcnet account and one least-privilege user per program (per node for agents), as nsc makes them");
  nats
    .command('init')
    .description('The servers\' auth block (auth.conf), a .creds file per program and per --nodes entry, and the signing seeds (seeds.json)')
    .requiredOption('--dir <dir>', 'where to write them (credentials and seeds 0600)')
    .option('--nodes <names>', 'node names, comma separated: one agent user each (more later with nats issue)')
    .option('--no-dns', 'no user for svcnet-dns')
    .option('--force', 'replace an existing installation\'s keys (every credentials file must then be redistributed)')
    .action(async (o: NatsInitOptions) => {
      await runNatsInit(deps.io, o);
    });
  nats
    .command('issue')
    .description('One more user signed with the seeds in --dir (a new node: --role agent --node NAME); the servers need no change')
    .requiredOption('--dir <dir>', 'the directory of nats init (seeds.json)')
    .requiredOption('--role <role>', 'agent, dns, state, allocator or admin')
    .option('--node <name>', "the agent's node name")
    .action(async (o: NatsIssueOptions) => {
      await runNatsIssue(deps.io, o);
    });

  program
    .command('trace')
    .description('Show the service and endpoints a destination (cluster IP:port or node IP:nodePort) reaches, from the state')
    .argument('<destination>', 'IP:PORT[/PROTOCOL]')
    .addOption(new Option('--protocol <protocol>', 'protocol when the destination names none').choices(['TCP', 'UDP', 'SCTP']))
    .option('--node <name>', 'the node the traffic enters on (Local traffic policies)')
    .action(async (destination: string, opts: TraceOptions) => {
      exitCode = await runTrace(context(), destination, opts);
    });

  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are not errors; every other parse failure is a usage error.
      const ok = ['commander.helpDisplayed', 'commander.help', 'commander.version'].includes(err.code);
      return ok ? ExitCode.Ok : ExitCode.Usage;
    }
    const failure = describeFailure(err);
    deps.io.stderr(`${failure.message}\n`);
    return failure.exitCode;
  } finally {
    api?.close();
  }
}
