/**
 * The svcnetctl command line (commander). Wires flags to the commands and turns
 * every outcome into an exit code: 0 ok, 1 failed, 2 usage error.
 */
import { Command, CommanderError, Option } from 'commander';
import { ExitCode, UsageError, describeFailure } from './cli-errors.js';
import { runApply } from './commands/apply.js';
import type { CliIo, CommandContext } from './commands/context.js';
import { runDelete, type DeleteOptions } from './commands/delete.js';
import { runDescribe } from './commands/describe.js';
import { runExpose, type ExposeOptions } from './commands/expose.js';
import { runGet, type GetOptions } from './commands/get.js';
import { runTrace, type TraceOptions } from './commands/trace.js';
import type { StateApi } from './state-api.js';

/** Default address of the state service (apps/state's default `--listen`). */
export const DEFAULT_SERVER = '127.0.0.1:9402';

export interface CliDeps {
  io: CliIo;
  env: Readonly<Record<string, string | undefined>>;
  /** Opens the state API; called at most once, only by commands that need it. */
  connect(params: { server: string; timeoutMs: number; verbosity: number }): StateApi;
}

interface GlobalOptions {
  server?: string;
  namespace?: string;
  requestTimeout: string;
  v: string;
}

/** kubectl's --request-timeout: `30s`, `2m`, `500ms` or plain seconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new UsageError(`invalid duration "${text}": use e.g. 30s, 2m, 500ms`);
  const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  return Number(m[1]) * factor;
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
    const server = g.server ?? deps.env.SVCNET_SERVER ?? DEFAULT_SERVER;
    const timeoutMs = parseDuration(g.requestTimeout);
    api ??= deps.connect({ server, timeoutMs, verbosity: Number(g.v) || 0 });
    return { io: deps.io, api, namespace: g.namespace ?? 'default', namespaceExplicit: g.namespace !== undefined };
  };

  program
    .description('svcnetctl controls svcnet services, pods and endpoints (kubectl habits, svcnet.v1.State over gRPC).')
    .option('-s, --server <address>', `state service address (env SVCNET_SERVER, default ${DEFAULT_SERVER})`)
    .option('-n, --namespace <namespace>', 'namespace of the request (default "default")')
    .option('--request-timeout <duration>', 'deadline of each request', '30s')
    .option('-v, --v <level>', 'log verbosity (pino JSON on stderr; 6+ logs every request)', '0')
    .exitOverride()
    .configureOutput({ writeOut: (s) => deps.io.stdout(s), writeErr: (s) => deps.io.stderr(s) })
    .showSuggestionAfterError();

  program
    .command('get')
    .description('Display one or many resources: services (svc), pods (po), endpoints (ep), or all (pods and services)')
    .argument('<type-or-type/name...>', 'resource type and optional names, or type/name pairs')
    .option('-A, --all-namespaces', 'list across all namespaces')
    .option('-o, --output <format>', 'wide | json | yaml | name')
    .option('-l, --selector <selector>', 'label selector, k=v[,k2=v2]')
    .option('--show-labels', 'show all labels as the last column')
    .option('--ignore-not-found', 'treat "resource not found" as a successful retrieval')
    .option('-w, --watch', 'after listing, print every change (State.Watch) until interrupted')
    .action(async (args: string[], opts: GetOptions) => {
      exitCode = await runGet(context(), args, opts);
    });

  program
    .command('describe')
    .description('Show details of a service, pod or endpoints')
    .argument('<type-or-type/name...>', 'resource type and optional names')
    .action(async (args: string[]) => {
      exitCode = await runDescribe(context(), args);
    });

  program
    .command('apply')
    .description('Create or update objects from Kubernetes-shaped YAML (v1 Service, Pod, Endpoints)')
    .requiredOption('-f, --filename <path>', 'file, directory or - for stdin (repeatable)', collect)
    .action(async (opts: { filename: string[] }) => {
      exitCode = await runApply(context(), opts.filename);
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
