/**
 * `svcnetctl apply -f <file|dir|->`: create what does not exist, update what
 * does. Server-assigned fields the manifest leaves out (clusterIP, node ports,
 * IP families) are kept, as `kubectl apply`'s merge keeps them.
 */
import { ExitCode, describeFailure } from '../cli-errors.js';
import type { ManifestObject } from '../manifest/from-manifest.js';
import { objectRef, toManifest } from '../output.js';
import type { Kind, KindObjects } from '../resources.js';
import { mayHaveNodePorts, type Service } from '@svcnet/model';
import type { CommandContext } from './context.js';
import { loadManifests } from './manifests.js';
import { isNotFound } from './not-found.js';

/** Keeps what the server assigned and the manifest does not mention. */
export function mergeServerFields(desired: Service, existing: Service): Service {
  const spec = { ...desired.spec, ports: desired.spec.ports.map((p) => ({ ...p })) };
  if (!spec.clusterIP) {
    spec.clusterIP = existing.spec.clusterIP;
    if (spec.clusterIPs.length === 0) spec.clusterIPs = [...existing.spec.clusterIPs];
  }
  if (spec.clusterIPs.length === 0 && spec.clusterIP === existing.spec.clusterIP) spec.clusterIPs = [...existing.spec.clusterIPs];
  if (spec.ipFamilies.length === 0) spec.ipFamilies = [...existing.spec.ipFamilies];
  if (mayHaveNodePorts(spec.type) && mayHaveNodePorts(existing.spec.type)) {
    // The API server's patchAllocatedValues: node ports by port name (also the empty
    // name), unless the new spec already uses that node port elsewhere.
    const used = new Set(spec.ports.map((p) => p.nodePort).filter((n) => n !== 0));
    const byName = new Map(existing.spec.ports.map((p) => [p.name, p.nodePort]));
    for (const port of spec.ports) {
      const old = byName.get(port.name);
      if (port.nodePort === 0 && old && !used.has(old)) port.nodePort = old;
    }
  }
  // As the API server: an unset health check node port keeps the allocated one; a status not given keeps the stored one.
  if (!spec.healthCheckNodePort && existing.spec.healthCheckNodePort && spec.type === 'LoadBalancer') spec.healthCheckNodePort = existing.spec.healthCheckNodePort;
  const status = desired.status ?? (spec.type === 'LoadBalancer' ? existing.status : undefined);
  return { metadata: desired.metadata, spec, ...(status ? { status } : {}) };
}

/** The manifest without what the server alone sets, to tell "unchanged" from "configured". */
function comparable(kind: Kind, object: KindObjects[Kind]): string {
  const m = toManifest(kind, object);
  const meta = { ...(m.metadata as Record<string, unknown>) };
  delete meta.uid;
  delete meta.resourceVersion;
  delete meta.creationTimestamp;
  if (kind === 'Service') delete m.status;
  return JSON.stringify({ ...m, metadata: meta });
}

type Outcome = 'created' | 'configured' | 'unchanged';

async function applyOne(ctx: CommandContext, item: ManifestObject): Promise<Outcome> {
  const { kind, object } = item;
  const meta = object.metadata;
  let existing: KindObjects[Kind];
  try {
    existing = await ctx.api.get(kind, meta.namespace, meta.name);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    await ctx.api.create(kind, object);
    return 'created';
  }
  let desired: KindObjects[Kind] =
    kind === 'Service' ? mergeServerFields(object as Service, existing as Service) : object;
  desired = {
    ...desired,
    metadata: {
      ...desired.metadata,
      uid: existing.metadata.uid,
      // Compare-and-set: an update racing ours fails instead of being overwritten.
      resourceVersion: existing.metadata.resourceVersion,
      ...(existing.metadata.creationTimestamp ? { creationTimestamp: existing.metadata.creationTimestamp } : {}),
    },
  } as KindObjects[Kind];
  if (comparable(kind, desired) === comparable(kind, existing)) return 'unchanged';
  await ctx.api.update(kind, desired);
  return 'configured';
}

export async function runApply(ctx: CommandContext, files: string[]): Promise<ExitCode> {
  const objects = await loadManifests(ctx, files);
  let exitCode: ExitCode = ExitCode.Ok;
  for (const { source, item } of objects) {
    try {
      const outcome = await applyOne(ctx, item);
      ctx.io.stdout(`${objectRef(item.kind, item.object.metadata.name)} ${outcome}\n`);
    } catch (err) {
      // kubectl goes on with the other objects and fails at the end.
      const failure = describeFailure(err, `error when applying "${source}"`);
      ctx.io.stderr(`${failure.message}\n`);
      exitCode = failure.exitCode;
    }
  }
  return exitCode;
}
