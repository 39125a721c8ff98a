/**
 * `svcnetctl trace <ip>:<port>[/protocol] [--node name]`: the service and
 * endpoints a destination reaches, from the state every node renders its rules
 * from. Exit 0 when traffic would reach a ready endpoint, 1 when it would not.
 */
import type { Protocol } from '@svcnet/model';
import { ExitCode, UsageError } from '../cli-errors.js';
import { formatTrace } from '../trace/format-trace.js';
import { traceDestination, type TraceQuery } from '../trace/trace.js';
import type { CommandContext } from './context.js';

export interface TraceOptions {
  protocol?: string;
  node?: string;
}

const PROTOCOLS: readonly Protocol[] = ['TCP', 'UDP', 'SCTP'];

/** Parses `10.96.0.10:6379`, `[fd00::1]:80/UDP`. */
export function parseDestination(text: string, protocolFlag: string | undefined): TraceQuery {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+)):(\d+)(?:\/([A-Za-z]+))?$/.exec(text);
  if (!m) throw new UsageError(`invalid destination "${text}": expected IP:PORT[/PROTOCOL], e.g. 10.96.0.10:6379/TCP`);
  const port = Number(m[3]);
  if (port < 1 || port > 65535) throw new UsageError(`invalid destination "${text}": port must be 1-65535`);
  const protocol = (m[4] ?? protocolFlag ?? 'TCP').toUpperCase();
  if (!(PROTOCOLS as readonly string[]).includes(protocol)) {
    throw new UsageError(`invalid protocol "${protocol}": supported values: ${PROTOCOLS.join(', ')}`);
  }
  return { ip: (m[1] ?? m[2])!, port, protocol: protocol as Protocol };
}

export async function runTrace(ctx: CommandContext, destination: string, options: TraceOptions): Promise<ExitCode> {
  const query = { ...parseDestination(destination, options.protocol), ...(options.node ? { node: options.node } : {}) };
  const all = { namespace: '', allNamespaces: true, labelSelector: '' };
  const [{ items: services }, { items: endpoints }] = await Promise.all([ctx.api.list('Service', all), ctx.api.list('Endpoints', all)]);
  const result = traceDestination(services, endpoints, query);
  ctx.io.stdout(formatTrace(result));
  const reachable = result.kind === 'service' && result.endpoints.some((e) => e.ready && e.eligible);
  return reachable ? ExitCode.Ok : ExitCode.Failed;
}
