/**
 * `svcnetctl wait --for=programmed service/NAME... [--timeout 30s]`: returns
 * once every Ready node has programmed each service's last change (exit 0),
 * or names the nodes that have not (exit 1), as `kubectl wait` does for its
 * conditions.
 */
import { CliError, ExitCode, UsageError, describeFailure } from '../cli-errors.js';
import { resolveKind } from '../resources.js';
import type { ProgrammedResult } from '@svcnet/client';
import type { CommandContext } from './context.js';

/** kubectl wait's default --timeout. */
export const DEFAULT_WAIT_TIMEOUT_MS = 30_000;

/** What a wait is for: a service (by name) or, with no name, a revision of the state. */
export interface WaitTarget {
  namespace: string;
  name: string;
  revision: number;
}

function describeTarget(t: WaitTarget): string {
  return t.name ? `service/${t.name}` : `revision ${t.revision}`;
}

/** The line for nodes that have not programmed it, e.g. `node2 (at revision 40)`. */
function pendingText(r: ProgrammedResult): string {
  return r.pendingNodes.map((n) => `${n.name} (at revision ${n.programmedRevision})`).join(', ');
}

/**
 * Waits for each target within one shared deadline. Prints kubectl's
 * `service/x condition met` per target; on a timeout, names the nodes.
 */
export async function waitProgrammed(ctx: CommandContext, targets: readonly WaitTarget[], timeoutMs: number): Promise<ExitCode> {
  const deadline = Date.now() + timeoutMs;
  let exitCode: ExitCode = ExitCode.Ok;
  for (const t of targets) {
    try {
      const r = await ctx.api.waitProgrammed({ ...t, timeoutMs: Math.max(0, deadline - Date.now()) });
      if (r.notReadyNodes.length > 0) {
        ctx.io.stderr(`Warning: not waiting for NotReady node(s): ${r.notReadyNodes.map((n) => n.name).join(', ')}\n`);
      }
      if (r.programmed) {
        ctx.io.stdout(`${describeTarget(t)} condition met (revision ${r.revision} programmed on ${r.programmedNodes.length} node${r.programmedNodes.length === 1 ? '' : 's'})\n`);
      } else {
        throw new CliError(`timed out waiting for the condition on ${describeTarget(t)}: revision ${r.revision} not programmed on ${pendingText(r)}`);
      }
    } catch (err) {
      const failure = describeFailure(err);
      ctx.io.stderr(`${failure.message}\n`);
      exitCode = failure.exitCode;
    }
  }
  return exitCode;
}

/** `wait --for=programmed service/a svc/b`. */
export async function runWait(ctx: CommandContext, args: readonly string[], options: { for?: string; timeoutMs: number }): Promise<ExitCode> {
  if (options.for !== 'programmed') {
    throw new UsageError(`unrecognized condition: "${options.for ?? ''}" (svcnetctl waits for --for=programmed)`);
  }
  if (args.length === 0) throw new UsageError('you must specify at least one resource, e.g. service/NAME');
  const targets = args.map((arg): WaitTarget => {
    const [type, name, ...rest] = arg.split('/');
    if (!type || !name || rest.length > 0) throw new UsageError(`arguments must be TYPE/NAME, got "${arg}"`);
    if (resolveKind(type) !== 'Service') throw new UsageError(`--for=programmed applies to services, not "${type}"`);
    return { namespace: ctx.namespace, name, revision: 0 };
  });
  return waitProgrammed(ctx, targets, options.timeoutMs);
}
