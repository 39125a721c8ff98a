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
import { waitProgrammed, type WaitTarget } from './wait.js';

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

/** What an apply did, and the revision the object is stored at now. */
interface Applied {
  outcome: Outcome;
  revision: number;
}

async function applyOne(ctx: CommandContext, item: ManifestObject): Promise<Applied> {
  const { kind, object } = item;
  const meta = object.metadata;
  let existing: KindObjects[Kind];
  try {
    existing = await ctx.api.get(kind, meta.namespace, meta.name);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    const created = await ctx.api.create(kind, object);
    return { outcome: 'created', revision: created.metadata.resourceVersion };
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
  if (comparable(kind, desired) === comparable(kind, existing)) return { outcome: 'unchanged', revision: existing.metadata.resourceVersion };
  const updated = await ctx.api.update(kind, desired);
  return { outcome: 'configured', revision: updated.metadata.resourceVersion };
}

/** `apply --wait`: then wait until every Ready node has programmed what was applied. */
export interface ApplyOptions {
  wait?: boolean;
  timeoutMs: number;
}

export async function runApply(ctx: CommandContext, files: string[], options: ApplyOptions = { timeoutMs: 0 }): Promise<ExitCode> {
  const objects = await loadManifests(ctx, files);
  let exitCode: ExitCode = ExitCode.Ok;
  // Services and endpoints are waited for by service name (their last change and the endpoints the
  // controller derives); a pod by the revision it was stored at.
  const services = new Map<string, WaitTarget>();
  let podRevision = 0;
  for (const { source, item } of objects) {
    try {
      const { outcome, revision } = await applyOne(ctx, item);
      ctx.io.stdout(`${objectRef(item.kind, item.object.metadata.name)} ${outcome}\n`);
      const { namespace, name } = item.object.metadata;
      if (item.kind === 'Pod') podRevision = Math.max(podRevision, revision);
      else services.set(`${namespace}/${name}`, { namespace, name, revision: 0 });
    } catch (err) {
      // kubectl goes on with the other objects and fails at the end.
      const failure = describeFailure(err, `error when applying "${source}"`);
      ctx.io.stderr(`${failure.message}\n`);
      exitCode = failure.exitCode;
    }
  }
  if (options.wait && exitCode === ExitCode.Ok) {
    const targets: WaitTarget[] = [...(podRevision > 0 ? [{ namespace: '', name: '', revision: podRevision }] : []), ...services.values()];
    if (targets.length > 0) exitCode = await waitProgrammed(ctx, targets, options.timeoutMs);
  }
  return exitCode;
}
