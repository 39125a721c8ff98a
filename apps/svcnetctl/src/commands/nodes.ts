/**
 * `svcnetctl get nodes [NAME...] [-o wide|json|yaml|name]` and
 * `svcnetctl describe node [NAME...]`: the agents' own reports, judged by
 * the state service (Ready while heartbeats arrive).
 */
import { ExitCode, UsageError, describeFailure } from '../cli-errors.js';
import { describeNode, nodeManifest, nodesTable } from '../format/nodes.js';
import { formatManifests, parseOutputFormat } from '../output.js';
import type { NodeInfo } from '@svcnet/client';
import type { CommandContext } from './context.js';
import { isNotFound } from './not-found.js';

/** How long get/describe give Ready agents to answer a progress probe, so PROGRAMMED and LAG are current. */
export const NODE_REFRESH_MS = 500;

const NODE_TYPES = new Set(['nodes', 'node', 'no']);

/** `nodes`, `node/x`, `no`: the arguments of get/describe name nodes (never mixed with other kinds). */
export function nodeNames(args: readonly string[]): string[] | undefined {
  if (args.length === 0) return undefined;
  if (args.every((a) => a.includes('/') && NODE_TYPES.has(a.split('/')[0]!.toLowerCase()))) return args.map((a) => a.split('/')[1]!);
  if (NODE_TYPES.has(args[0]!.toLowerCase())) {
    if (args.slice(1).some((a) => a.includes('/'))) throw new UsageError('there is no need to specify a resource type as a separate argument when passing arguments in resource/name form');
    return args.slice(1);
  }
  if (args.some((a) => NODE_TYPES.has(a.split('/')[0]!.toLowerCase()) || a.split(',').some((t) => NODE_TYPES.has(t.toLowerCase())))) {
    throw new UsageError('nodes cannot be listed together with other resource types');
  }
  return undefined;
}

async function fetchNodes(ctx: CommandContext, names: readonly string[], ignoreNotFound: boolean): Promise<{ nodes: NodeInfo[]; exitCode: ExitCode }> {
  if (names.length === 0) return { nodes: (await ctx.api.listNodes(NODE_REFRESH_MS)).items, exitCode: ExitCode.Ok };
  const nodes: NodeInfo[] = [];
  let exitCode: ExitCode = ExitCode.Ok;
  for (const name of names) {
    try {
      nodes.push(await ctx.api.getNode(name, NODE_REFRESH_MS));
    } catch (err) {
      if (ignoreNotFound && isNotFound(err)) continue;
      const failure = describeFailure(err);
      ctx.io.stderr(`${failure.message}\n`);
      exitCode = failure.exitCode;
    }
  }
  return { nodes, exitCode };
}

export async function runGetNodes(ctx: CommandContext, names: readonly string[], options: { output?: string; ignoreNotFound?: boolean }): Promise<ExitCode> {
  const format = parseOutputFormat(options.output);
  const { nodes, exitCode } = await fetchNodes(ctx, names, options.ignoreNotFound === true);
  if (format === 'name') {
    ctx.io.stdout(nodes.map((n) => `node/${n.name}\n`).join(''));
    return exitCode;
  }
  if (format === 'json' || format === 'yaml') {
    const single = names.length === 1 && nodes.length === 1;
    if (nodes.length > 0 || names.length === 0) ctx.io.stdout(formatManifests(nodes.map(nodeManifest), format, !single));
    return exitCode;
  }
  if (nodes.length === 0) {
    if (names.length === 0) ctx.io.stderr('No resources found\n');
    return exitCode;
  }
  ctx.io.stdout(nodesTable(nodes, { wide: format === 'wide', now: ctx.io.now() }));
  return exitCode;
}

export async function runDescribeNodes(ctx: CommandContext, names: readonly string[]): Promise<ExitCode> {
  const { nodes, exitCode } = await fetchNodes(ctx, names, false);
  if (nodes.length > 0) ctx.io.stdout(nodes.map((n) => describeNode(n, ctx.io.now())).join('\n\n'));
  else if (exitCode === ExitCode.Ok) ctx.io.stderr('No resources found\n');
  return exitCode;
}
