/**
 * `svcnetctl expose pod|service <name> [--port] [--target-port] [--name] [--type] …`:
 * a new service whose selector is the pod's labels (or the service's selector),
 * and whose ports, when not given, come from the pod's container ports (or the
 * service's ports), as `kubectl expose` introspects them.
 */
import type { IntOrString, Protocol, Service, ServicePort, ServiceType, SessionAffinity } from '@svcnet/model';
import { CliError, ExitCode, UsageError } from '../cli-errors.js';
import { formatObjects, objectRef, parseOutputFormat } from '../output.js';
import { resolveKind, type KindObjects } from '../resources.js';
import type { CommandContext } from './context.js';

export interface ExposeOptions {
  port?: string;
  targetPort?: string;
  name?: string;
  type?: string;
  protocol?: string;
  selector?: string;
  labels?: string;
  clusterIp?: string;
  externalIp?: string;
  sessionAffinity?: string;
  output?: string;
  dryRun?: string;
}

/** Parses `k=v,k2=v2` (selectors and labels). */
export function parseLabelPairs(text: string, flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new UsageError(`invalid ${flag} "${text}": expected key=value pairs separated by commas`);
    out[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return out;
}

function parsePortNumber(text: string, flag: string): number {
  if (!/^\d+$/.test(text)) throw new UsageError(`invalid argument "${text}" for "${flag}" flag: must be a port number`);
  return Number(text);
}

function parseTargetPort(text: string): IntOrString {
  // kubectl's intstr.Parse: digits are a number, anything else a named container port.
  return /^\d+$/.test(text) ? Number(text) : text;
}

function oneOf<T extends string>(value: string | undefined, flag: string, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(value)) {
    throw new UsageError(`invalid value "${value}" for ${flag}: supported values: ${allowed.join(', ')}`);
  }
  return value as T;
}

interface Source {
  kind: 'Pod' | 'Service';
  name: string;
  labels: Record<string, string>;
  selector: Record<string, string>;
  ports: ServicePort[];
}

async function introspect(ctx: CommandContext, type: string, name: string): Promise<Source> {
  const kind = resolveKind(type);
  if (kind === 'Pod') {
    const pod: KindObjects['Pod'] = await ctx.api.get('Pod', ctx.namespace, name);
    const many = pod.containerPorts.length > 1;
    return {
      kind,
      name,
      labels: pod.metadata.labels,
      selector: pod.metadata.labels,
      ports: pod.containerPorts.map((c, i) => ({
        // kubectl names ports only when there are several (port-1, port-2, …).
        name: many ? `port-${i + 1}` : '',
        protocol: c.protocol,
        port: c.containerPort,
        targetPort: c.containerPort,
        nodePort: 0,
      })),
    };
  }
  if (kind === 'Service') {
    const svc: KindObjects['Service'] = await ctx.api.get('Service', ctx.namespace, name);
    return {
      kind,
      name,
      labels: svc.metadata.labels,
      selector: svc.spec.selector,
      ports: svc.spec.ports.map((p) => ({ ...p, nodePort: 0 })),
    };
  }
  throw new UsageError(`cannot expose a ${kind}`);
}

/** Builds the service `expose` would create (exported for tests). */
export function exposedService(ctx: CommandContext, source: Source, options: ExposeOptions): Service {
  const selector = options.selector !== undefined ? parseLabelPairs(options.selector, '--selector') : source.selector;
  if (Object.keys(selector).length === 0) {
    throw new CliError(
      `couldn't retrieve selectors via --selector flag or introspection: the ${source.kind.toLowerCase()} has no ${source.kind === 'Pod' ? 'labels' : 'selector'} and cannot be exposed`,
    );
  }
  const protocol = oneOf<Protocol>(options.protocol, '--protocol', ['TCP', 'UDP', 'SCTP'], 'TCP');
  let ports: ServicePort[];
  if (options.port !== undefined) {
    const port = parsePortNumber(options.port, '--port');
    ports = [{ name: '', protocol, port, targetPort: options.targetPort !== undefined ? parseTargetPort(options.targetPort) : port, nodePort: 0 }];
  } else {
    ports = source.ports.map((p) => ({
      ...p,
      ...(options.protocol !== undefined ? { protocol } : {}),
      ...(options.targetPort !== undefined ? { targetPort: parseTargetPort(options.targetPort) } : {}),
    }));
  }
  if (ports.length === 0) throw new CliError(`couldn't find port via --port flag or introspection`);
  const type = oneOf<ServiceType>(options.type, '--type', ['ClusterIP', 'NodePort', 'LoadBalancer'], 'ClusterIP');
  const sessionAffinity = oneOf<SessionAffinity>(options.sessionAffinity, '--session-affinity', ['None', 'ClientIP'], 'None');
  return {
    metadata: {
      namespace: ctx.namespace,
      name: options.name ?? source.name,
      uid: '',
      labels: options.labels !== undefined ? parseLabelPairs(options.labels, '--labels') : { ...source.labels },
      annotations: {},
      resourceVersion: 0,
    },
    spec: {
      type,
      clusterIP: options.clusterIp ?? '',
      clusterIPs: [],
      ipFamilies: [],
      ports,
      selector,
      sessionAffinity,
      sessionAffinityTimeoutSeconds: 0,
      externalTrafficPolicy: 'Cluster',
      internalTrafficPolicy: 'Cluster',
      externalIPs: options.externalIp ? options.externalIp.split(',').filter((s) => s !== '') : [],
    },
  };
}

export async function runExpose(ctx: CommandContext, type: string, name: string, options: ExposeOptions): Promise<ExitCode> {
  const format = parseOutputFormat(options.output);
  if (options.dryRun !== undefined && options.dryRun !== 'none' && options.dryRun !== 'client') {
    throw new UsageError(`invalid dry-run value "${options.dryRun}": svcnetctl supports "none" and "client"`);
  }
  const source = await introspect(ctx, type, name);
  const desired = exposedService(ctx, source, options);
  const service = options.dryRun === 'client' ? desired : await ctx.api.create('Service', desired);
  if (format === 'json' || format === 'yaml' || format === 'name') {
    ctx.io.stdout(formatObjects([{ kind: 'Service', object: service }], format, false));
  } else {
    ctx.io.stdout(`${objectRef('Service', service.metadata.name)} exposed${options.dryRun === 'client' ? ' (dry run)' : ''}\n`);
  }
  return ExitCode.Ok;
}
