/**
 * `-o json|yaml|name` output. Keys are sorted as kubectl's printers sort them
 * (they marshal maps), YAML lists are not indented under their key (go-yaml).
 */
import { stringify } from 'yaml';
import { endpointsToManifest, podToManifest, serviceToManifest, type Manifest } from './manifest/to-manifest.js';
import { SINGULAR, type AnyObject, type Kind, type KindObjects } from './resources.js';
import { UsageError } from './cli-errors.js';

export const OutputFormat = { Table: 'table', Wide: 'wide', Json: 'json', Yaml: 'yaml', Name: 'name' } as const;
export type OutputFormat = (typeof OutputFormat)[keyof typeof OutputFormat];

/** Parses `-o`; unknown formats are usage errors, with kubectl's list of allowed ones. */
export function parseOutputFormat(value: string | undefined): OutputFormat {
  if (value === undefined || value === '') return OutputFormat.Table;
  const allowed: OutputFormat[] = [OutputFormat.Wide, OutputFormat.Json, OutputFormat.Yaml, OutputFormat.Name];
  if (!(allowed as string[]).includes(value)) {
    throw new UsageError(`unable to match a printer suitable for the output format "${value}", allowed formats are: ${allowed.join(',')}`);
  }
  return value as OutputFormat;
}

/** The Kubernetes-shaped manifest of any object. */
export function toManifest<K extends Kind>(kind: K, object: KindObjects[K]): Manifest {
  const o = object as AnyObject;
  if (kind === 'Service') return serviceToManifest(o as KindObjects['Service']);
  if (kind === 'Pod') return podToManifest(o as KindObjects['Pod']);
  return endpointsToManifest(o as KindObjects['Endpoints']);
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return Object.fromEntries(entries.map(([k, v]) => [k, sortKeys(v)]));
  }
  return value;
}

/** `kind/name`, as `-o name` prints and `apply` reports. */
export function objectRef(kind: Kind, name: string): string {
  return `${SINGULAR[kind]}/${name}`;
}

/**
 * Prints objects as JSON, YAML or names. `asList` wraps several objects (or a
 * `get` without names) in a `kind: List`, as kubectl does.
 */
export function formatObjects(
  items: readonly { kind: Kind; object: AnyObject }[],
  format: 'json' | 'yaml' | 'name',
  asList: boolean,
): string {
  if (format === 'name') return items.map((i) => `${objectRef(i.kind, i.object.metadata.name)}\n`).join('');
  return formatManifests(items.map((i) => toManifest(i.kind, i.object)), format, asList);
}

/** Manifests as JSON or YAML, kubectl-style (sorted keys; a `kind: List` around several). */
export function formatManifests(manifests: readonly unknown[], format: 'json' | 'yaml', asList: boolean): string {
  const doc = sortKeys(
    asList ? { apiVersion: 'v1', kind: 'List', items: manifests, metadata: { resourceVersion: '' } } : manifests[0],
  );
  if (format === 'json') return `${JSON.stringify(doc, null, 4)}\n`;
  return stringify(doc, { indentSeq: false });
}
