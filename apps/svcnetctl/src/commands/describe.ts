/**
 * `svcnetctl describe <type> [name...]`: every object of the namespace when no
 * name is given, as kubectl does.
 */
import { ExitCode, describeFailure } from '../cli-errors.js';
import { describeEndpoints, describePod, describeService } from '../format/describe.js';
import { resolveTargets, type AnyObject, type Kind, type KindObjects } from '../resources.js';
import type { CommandContext } from './context.js';
import { isNotFound } from './not-found.js';

async function describeOne(ctx: CommandContext, kind: Kind, object: AnyObject): Promise<string> {
  if (kind === 'Pod') return describePod(object as KindObjects['Pod']);
  if (kind === 'Endpoints') return describeEndpoints(object as KindObjects['Endpoints']);
  const service = object as KindObjects['Service'];
  let endpoints: KindObjects['Endpoints'] | undefined;
  try {
    endpoints = await ctx.api.get('Endpoints', service.metadata.namespace, service.metadata.name);
  } catch (err) {
    // A service without endpoints yet (or a headless one) shows `<none>`, like kubectl.
    if (!isNotFound(err)) throw err;
  }
  return describeService(service, endpoints);
}

export async function runDescribe(ctx: CommandContext, args: string[]): Promise<ExitCode> {
  let exitCode: ExitCode = ExitCode.Ok;
  const texts: string[] = [];
  for (const { kind, names } of resolveTargets(args)) {
    const objects: AnyObject[] = [];
    if (names.length === 0) {
      objects.push(...(await ctx.api.list(kind, { namespace: ctx.namespace, allNamespaces: false, labelSelector: '' })).items);
    }
    for (const name of names) {
      try {
        objects.push(await ctx.api.get(kind, ctx.namespace, name));
      } catch (err) {
        const failure = describeFailure(err);
        ctx.io.stderr(`${failure.message}\n`);
        exitCode = failure.exitCode;
      }
    }
    for (const object of objects) texts.push(await describeOne(ctx, kind, object));
  }
  // kubectl separates described objects with a blank line.
  if (texts.length > 0) ctx.io.stdout(texts.join('\n\n'));
  else if (exitCode === ExitCode.Ok) ctx.io.stderr(`No resources found in ${ctx.namespace} namespace.\n`);
  return exitCode;
}
