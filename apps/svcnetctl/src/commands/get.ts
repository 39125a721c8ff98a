/**
 * `svcnetctl get <type> [name...] [-n ns | -A] [-o wide|json|yaml|name] [-l sel]`.
 */
import { endpointsTable, podsTable, servicesTable, type TableOptions } from '../format/tables.js';
import { formatObjects, parseOutputFormat } from '../output.js';
import { PLURAL, SINGULAR, resolveTargets, type AnyObject, type Kind, type KindObjects } from '../resources.js';
import type { CommandContext } from './context.js';
import { isNotFound } from './not-found.js';
import { runGetWatch } from './get-watch.js';
import { ExitCode, UsageError, describeFailure } from '../cli-errors.js';

export interface GetOptions {
  allNamespaces?: boolean;
  output?: string;
  selector?: string;
  showLabels?: boolean;
  ignoreNotFound?: boolean;
  watch?: boolean;
}

function renderTable(kind: Kind, objects: AnyObject[], options: TableOptions): string {
  if (kind === 'Service') return servicesTable(objects as KindObjects['Service'][], options);
  if (kind === 'Pod') return podsTable(objects as KindObjects['Pod'][], options);
  return endpointsTable(objects as KindObjects['Endpoints'][], options);
}

function byNamespaceAndName(a: AnyObject, b: AnyObject): number {
  const ka = `${a.metadata.namespace}/${a.metadata.name}`;
  const kb = `${b.metadata.namespace}/${b.metadata.name}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

export async function runGet(ctx: CommandContext, args: string[], options: GetOptions): Promise<ExitCode> {
  const format = parseOutputFormat(options.output);
  const targets = resolveTargets(args);
  const named = targets.some((t) => t.names.length > 0);
  if (named && options.allNamespaces) {
    throw new UsageError('a resource cannot be retrieved by name across all namespaces');
  }
  if (named && options.selector) throw new UsageError('selectors and the all flag cannot be used when passing resource/name arguments');
  const allNamespaces = options.allNamespaces === true;
  if (options.watch) {
    if (targets.length > 1) throw new UsageError('you may only specify a single resource type');
    return runGetWatch(ctx, {
      kind: targets[0]!.kind,
      names: targets[0]!.names,
      format,
      allNamespaces,
      showLabels: options.showLabels === true,
      selector: options.selector ?? '',
    });
  }
  let exitCode: ExitCode = ExitCode.Ok;
  let brokenSeen = 0;
  const found: { kind: Kind; objects: AnyObject[] }[] = [];
  for (const { kind, names } of targets) {
    const objects: AnyObject[] = [];
    if (names.length === 0) {
      const query = { namespace: ctx.namespace, allNamespaces, labelSelector: options.selector ?? '' };
      const { items, broken } = await ctx.api.list(kind, query);
      objects.push(...items.sort(byNamespaceAndName));
      // kubectl-style warnings on stderr: the table stays parseable, the damage is not hidden.
      for (const b of broken) {
        ctx.io.stderr(
          `Warning: ${PLURAL[kind]} "${b.name}" in namespace "${b.namespace}" is broken: the stored record (revision ${b.revision}) cannot be decoded: ${b.error}; remove it with: svcnetctl delete ${SINGULAR[kind]} ${b.name} -n ${b.namespace}\n`,
        );
      }
      brokenSeen += broken.length;
    } else {
      for (const name of names) {
        try {
          objects.push(await ctx.api.get(kind, ctx.namespace, name));
        } catch (err) {
          // kubectl prints what it found and reports each miss on stderr.
          if (options.ignoreNotFound && isNotFound(err)) continue;
          const failure = describeFailure(err);
          ctx.io.stderr(`${failure.message}\n`);
          exitCode = failure.exitCode;
        }
      }
    }
    found.push({ kind, objects });
  }

  const total = found.reduce((n, f) => n + f.objects.length, 0);
  if (format === 'json' || format === 'yaml' || format === 'name') {
    const items = found.flatMap((f) => f.objects.map((object) => ({ kind: f.kind, object })));
    // One named object prints bare; anything else is a List, as in kubectl.
    const single = named && items.length === 1 && targets.length === 1 && targets[0]!.names.length === 1;
    if (items.length > 0 || !named) ctx.io.stdout(formatObjects(items, format, !single));
    return exitCode;
  }
  if (total === 0) {
    if (!named && brokenSeen === 0) {
      ctx.io.stderr(allNamespaces ? 'No resources found\n' : `No resources found in ${ctx.namespace} namespace.\n`);
    }
    return exitCode;
  }
  const tableOptions: TableOptions = {
    allNamespaces,
    wide: format === 'wide',
    showLabels: options.showLabels === true,
    now: ctx.io.now(),
  };
  // Several kinds (`get svc/a pod/b`) print one table each, separated by a blank line.
  const several = found.length > 1;
  const tables = found
    .filter((f) => f.objects.length > 0)
    .map((f) => renderTable(f.kind, f.objects, { ...tableOptions, ...(several ? { namePrefix: `${SINGULAR[f.kind]}/` } : {}) }));
  ctx.io.stdout(tables.join('\n'));
  return exitCode;
}
