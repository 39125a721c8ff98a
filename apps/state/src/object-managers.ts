import { randomUUID } from 'node:crypto';
import { ErrorCode, SvcnetError, validateEndpoints, validatePod } from '@svcnet/model';
import type { Endpoints, ObjectMeta, Pod, Service } from '@svcnet/model';
import type { Deleted, ObjectStore, StoredObject } from '@svcnet/store';

/** Marks endpoints written by the endpoints controller (Kubernetes labels EndpointSlices likewise). */
export const MANAGED_BY_ANNOTATION = 'svcnet.io/managed-by';
export const ENDPOINTS_CONTROLLER = 'endpoints-controller';

function conflict(resource: string, name: string): SvcnetError {
  return new SvcnetError(
    ErrorCode.Aborted,
    `Operation cannot be fulfilled on ${resource} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
  );
}

/** Metadata for a create: namespace defaulted, uid and timestamps set. */
function createdMeta(meta: ObjectMeta, now: Date): ObjectMeta {
  return {
    ...meta,
    namespace: meta.namespace || 'default',
    uid: randomUUID(),
    resourceVersion: 0,
    creationTimestamp: now,
    changeTimestamp: now,
  };
}

/** Metadata for an update: identity kept from the stored object, CAS revision checked. */
function updatedMeta<T extends StoredObject>(resource: string, input: ObjectMeta, old: T, now: Date): ObjectMeta {
  if (input.resourceVersion && input.resourceVersion !== old.metadata.resourceVersion) {
    throw conflict(resource, input.name);
  }
  return {
    ...input,
    namespace: old.metadata.namespace,
    uid: old.metadata.uid,
    resourceVersion: old.metadata.resourceVersion,
    ...(old.metadata.creationTimestamp ? { creationTimestamp: old.metadata.creationTimestamp } : {}),
    changeTimestamp: now,
  };
}

/** Pods: registered by users (or a kubelet stand-in); IPs must lie inside the pod network. */
export class PodManager {
  constructor(private readonly params: { store: ObjectStore<Pod>; podCidr?: string; clock?: () => Date }) {}

  private now(): Date {
    return this.params.clock?.() ?? new Date();
  }

  private validate(pod: Pod): void {
    validatePod(pod, this.params.podCidr ? { podCidr: this.params.podCidr } : {});
  }

  async create(input: Pod): Promise<Pod> {
    const pod: Pod = { ...input, metadata: createdMeta(input.metadata, this.now()) };
    this.validate(pod);
    return this.params.store.create(pod);
  }

  async update(input: Pod): Promise<Pod> {
    const old = await this.params.store.get(input.metadata.namespace || 'default', input.metadata.name);
    const pod: Pod = { ...input, metadata: updatedMeta('pods', input.metadata, old, this.now()) };
    this.validate(pod);
    return this.params.store.update(pod, old.metadata.resourceVersion);
  }

  delete(namespace: string, name: string): Promise<Deleted<Pod>> {
    return this.params.store.delete(namespace || 'default', name);
  }
}

/**
 * User-managed endpoints, for services without a selector. The endpoints of a
 * service with a selector belong to the controller: writing them is refused.
 */
export class EndpointsManager {
  constructor(
    private readonly params: { store: ObjectStore<Endpoints>; services: ObjectStore<Service>; clock?: () => Date },
  ) {}

  private now(): Date {
    return this.params.clock?.() ?? new Date();
  }

  private async checkUnmanaged(ep: Endpoints): Promise<void> {
    const svc = await this.params.services.tryGet(ep.metadata.namespace, ep.metadata.name);
    if (svc && Object.keys(svc.spec.selector).length > 0) {
      throw new SvcnetError(
        ErrorCode.FailedPrecondition,
        `endpoints "${ep.metadata.name}" are managed by the endpoints controller: service "${ep.metadata.name}" has a selector`,
      );
    }
  }

  async create(input: Endpoints): Promise<Endpoints> {
    const ep: Endpoints = { ...input, metadata: createdMeta(input.metadata, this.now()) };
    delete ep.metadata.annotations[MANAGED_BY_ANNOTATION];
    validateEndpoints(ep);
    await this.checkUnmanaged(ep);
    return this.params.store.create(ep);
  }

  async update(input: Endpoints): Promise<Endpoints> {
    const old = await this.params.store.get(input.metadata.namespace || 'default', input.metadata.name);
    const ep: Endpoints = { ...input, metadata: updatedMeta('endpoints', input.metadata, old, this.now()) };
    delete ep.metadata.annotations[MANAGED_BY_ANNOTATION];
    validateEndpoints(ep);
    await this.checkUnmanaged(ep);
    return this.params.store.update(ep, old.metadata.resourceVersion);
  }

  delete(namespace: string, name: string): Promise<Deleted<Endpoints>> {
    return this.params.store.delete(namespace || 'default', name);
  }
}
