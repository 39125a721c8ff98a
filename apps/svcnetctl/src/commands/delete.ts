/**
 * `svcnetctl delete -f <file>` and `svcnetctl delete <type> <name...>`.
 */
import { ExitCode, UsageError, describeFailure } from '../cli-errors.js';
import { SINGULAR, resolveTargets, type Kind } from '../resources.js';
import type { CommandContext } from './context.js';
import { loadManifests } from './manifests.js';
import { isNotFound } from './not-found.js';

export interface DeleteOptions {
  filename?: string[];
  ignoreNotFound?: boolean;
}

interface Target {
  kind: Kind;
  namespace: string;
  name: string;
  source?: string;
}

export async function runDelete(ctx: CommandContext, args: string[], options: DeleteOptions): Promise<ExitCode> {
  const files = options.filename ?? [];
  if (files.length > 0 && args.length > 0) {
    throw new UsageError('resource(s) were provided, but no name was specified... do not combine -f with resource arguments');
  }
  let targets: Target[];
  if (files.length > 0) {
    targets = (await loadManifests(ctx, files)).map(({ source, item }) => ({
      kind: item.kind,
      namespace: item.object.metadata.namespace,
      name: item.object.metadata.name,
      source,
    }));
  } else {
    if (args.length === 0) throw new UsageError('You must provide one or more resources by argument or filename.');
    targets = resolveTargets(args).flatMap(({ kind, names }) => {
      if (names.length === 0) throw new UsageError(`resource(s) were provided, but no name was specified`);
      return names.map((name) => ({ kind, namespace: ctx.namespace, name }));
    });
  }
  let exitCode: ExitCode = ExitCode.Ok;
  for (const t of targets) {
    try {
      await ctx.api.delete(t.kind, t.namespace, t.name);
      ctx.io.stdout(`${SINGULAR[t.kind]} "${t.name}" deleted\n`);
    } catch (err) {
      if (options.ignoreNotFound && isNotFound(err)) continue;
      const failure = describeFailure(err, t.source ? `error when deleting "${t.source}"` : undefined);
      ctx.io.stderr(`${failure.message}\n`);
      exitCode = failure.exitCode;
    }
  }
  return exitCode;
}
