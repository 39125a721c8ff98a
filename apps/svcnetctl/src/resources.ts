/**
 * Resource names and aliases as kubectl spells them (`svc`, `po`, `ep`), and
 * the `kind/name` forms used by `-o name` and `apply`.
 */
import type { Kind, KindObjects } from '@svcnet/client';
import { UsageError } from './cli-errors.js';

export type { Kind, KindObjects };

export type AnyObject = KindObjects[Kind];

const aliases: Record<string, Kind> = {
  services: 'Service',
  service: 'Service',
  svc: 'Service',
  pods: 'Pod',
  pod: 'Pod',
  po: 'Pod',
  endpoints: 'Endpoints',
  endpoint: 'Endpoints',
  ep: 'Endpoints',
};

/** What `get all` lists, in kubectl's order. */
const ALL_CATEGORY: Kind[] = ['Pod', 'Service'];

/** The singular lower-case name kubectl prints (`service/redis`, `pod "x" deleted`). */
export const SINGULAR: Record<Kind, string> = { Service: 'service', Pod: 'pod', Endpoints: 'endpoints' };
/** The plural used in messages such as `services "x" not found`. */
export const PLURAL: Record<Kind, string> = { Service: 'services', Pod: 'pods', Endpoints: 'endpoints' };

/** Resolves a resource argument (`svc`, `pods`, `Service`…); unknown types are usage errors. */
export function resolveKind(type: string): Kind {
  const kind = aliases[type.toLowerCase()];
  if (!kind) throw new UsageError(`the server doesn't have a resource type "${type}"`);
  return kind;
}

/**
 * kubectl accepts `get svc a b` as well as `get svc/a pod/b`: this turns the
 * positional arguments into (kind, name) pairs. `names` is empty for "all".
 */
export function resolveTargets(args: readonly string[]): { kind: Kind; names: string[] }[] {
  if (args.length === 0) throw new UsageError('you must specify the type of resource to get');
  if (args[0]!.includes('/')) {
    const byKind = new Map<Kind, string[]>();
    for (const arg of args) {
      const [type, name, ...rest] = arg.split('/');
      if (!type || !name || rest.length > 0) {
        throw new UsageError(`there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'svcnetctl get resource/<resource_name>' instead of 'svcnetctl get resource resource/<resource_name>'`);
      }
      const kind = resolveKind(type);
      byKind.set(kind, [...(byKind.get(kind) ?? []), name]);
    }
    return [...byKind].map(([kind, names]) => ({ kind, names }));
  }
  const [types, ...names] = args;
  if (names.some((n) => n.includes('/'))) {
    throw new UsageError(`there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'svcnetctl get resource/<resource_name>' instead of 'svcnetctl get resource resource/<resource_name>'`);
  }
  // `svc,pods`: several types at once, each with the same names. `all` is kubectl's category
  // (pods and services here; endpoints are not in it, as in Kubernetes).
  const kinds = [
    ...new Set(types!.split(',').filter((t) => t !== '').flatMap((t): Kind[] => (t.toLowerCase() === 'all' ? ALL_CATEGORY : [resolveKind(t)]))),
  ];
  if (kinds.length === 0) throw new UsageError(`the server doesn't have a resource type "${types}"`);
  return kinds.map((kind) => ({ kind, names: [...names] }));
}
