import type { KV } from '@nats-io/kv';
import { ErrorCode, SvcnetError, kindKeyFilter, objectKey, STATE_BUCKET } from '@svcnet/model';
import type { Endpoints, ObjectKind, ObjectMeta, Pod, Service } from '@svcnet/model';
import { endpointsCodec, podCodec, serviceCodec } from '@svcnet/api';
import type { StoreConnection } from './connection.js';
import { readSnapshot } from './kv-feed.js';
import { isCasConflict, storeUnavailable } from './store-errors.js';

/** Encodes and decodes one kind of object. */
export interface ObjectCodec<T> {
  encode(obj: T): Uint8Array;
  decode(b: Uint8Array): T;
}

/** Anything stored in the state bucket. */
export interface StoredObject {
  metadata: ObjectMeta;
}

/** A list read at one revision. */
export interface ObjectList<T> {
  items: T[];
  revision: number;
}

export interface ObjectStoreParams<T> {
  connection: StoreConnection;
  kv: KV;
  kind: ObjectKind;
  codec: ObjectCodec<T>;
  bucket?: string;
}

/**
 * Typed CRUD over one kind in the state bucket. Every returned object carries
 * its store revision in `metadata.resourceVersion`; update and delete are
 * compare-and-set on it, so concurrent writers never lose an update.
 */
export class ObjectStore<T extends StoredObject> {
  readonly kind: ObjectKind;
  private readonly kv: KV;
  private readonly codec: ObjectCodec<T>;
  private readonly connection: StoreConnection;
  private readonly bucket: string;

  constructor(params: ObjectStoreParams<T>) {
    this.kind = params.kind;
    this.kv = params.kv;
    this.codec = params.codec;
    this.connection = params.connection;
    this.bucket = params.bucket ?? STATE_BUCKET;
  }

  key(namespace: string, name: string): string {
    return objectKey(this.kind, namespace, name);
  }

  private notFound(namespace: string, name: string): SvcnetError {
    return new SvcnetError(ErrorCode.NotFound, `${this.resource()} "${name}" not found in namespace "${namespace}"`);
  }

  /** Kubernetes' plural resource name, used in messages. */
  private resource(): string {
    return { Service: 'services', Pod: 'pods', Endpoints: 'endpoints' }[this.kind];
  }

  private withRevision(obj: T, revision: number): T {
    obj.metadata.resourceVersion = revision;
    return obj;
  }

  /** The object, or undefined when absent. Throws UNAVAILABLE when NATS is down. */
  async tryGet(namespace: string, name: string): Promise<T | undefined> {
    let entry;
    try {
      entry = await this.kv.get(this.key(namespace, name));
    } catch (err) {
      throw storeUnavailable(err, `reading ${this.key(namespace, name)}`);
    }
    if (!entry || entry.operation !== 'PUT' || entry.length === 0) return undefined;
    try {
      return this.withRevision(this.codec.decode(entry.value), entry.revision);
    } catch (err) {
      throw new SvcnetError(ErrorCode.Internal, `stored ${this.kind} ${namespace}/${name} cannot be decoded`, {
        cause: err,
      });
    }
  }

  /** The object; NOT_FOUND when absent. */
  async get(namespace: string, name: string): Promise<T> {
    const obj = await this.tryGet(namespace, name);
    if (!obj) throw this.notFound(namespace, name);
    return obj;
  }

  /** Every object of the kind (one namespace, or all). Undecodable values are skipped. */
  async list(namespace?: string): Promise<ObjectList<T>> {
    try {
      const snap = await readSnapshot({
        nc: this.connection.nc,
        bucket: this.bucket,
        filter: kindKeyFilter(this.kind, namespace),
      });
      const items: T[] = [];
      for (const e of snap.entries) {
        if (e.value.length === 0) continue;
        try {
          items.push(this.withRevision(this.codec.decode(e.value), e.revision));
        } catch {
          // Garbage under a key is reported by watchers; a list just leaves it out.
        }
      }
      return { items, revision: snap.revision };
    } catch (err) {
      throw storeUnavailable(err, `listing ${this.resource()}`);
    }
  }

  /** Creates the object; ALREADY_EXISTS when the key holds a live value. */
  async create(obj: T): Promise<T> {
    const { namespace, name } = obj.metadata;
    try {
      const rev = await this.kv.create(this.key(namespace, name), this.codec.encode(obj));
      return this.withRevision(obj, rev);
    } catch (err) {
      if (isCasConflict(err)) {
        throw new SvcnetError(ErrorCode.AlreadyExists, `${this.resource()} "${name}" already exists`, { cause: err });
      }
      throw storeUnavailable(err, `creating ${this.key(namespace, name)}`);
    }
  }

  /**
   * Replaces the object if the key is still at `expectedRevision` (Kubernetes'
   * optimistic concurrency). ABORTED on conflict, NOT_FOUND when it is gone.
   */
  async update(obj: T, expectedRevision: number): Promise<T> {
    const { namespace, name } = obj.metadata;
    try {
      const rev = await this.kv.update(this.key(namespace, name), this.codec.encode(obj), expectedRevision);
      return this.withRevision(obj, rev);
    } catch (err) {
      if (isCasConflict(err)) {
        const current = await this.tryGet(namespace, name);
        if (!current) throw this.notFound(namespace, name);
        throw new SvcnetError(
          ErrorCode.Aborted,
          `Operation cannot be fulfilled on ${this.resource()} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
          { cause: err },
        );
      }
      throw storeUnavailable(err, `updating ${this.key(namespace, name)}`);
    }
  }

  /** Deletes the object (CAS when expectedRevision is given); returns what was deleted. */
  async delete(namespace: string, name: string, expectedRevision?: number): Promise<T> {
    const current = await this.get(namespace, name);
    const rev = expectedRevision ?? current.metadata.resourceVersion;
    try {
      await this.kv.delete(this.key(namespace, name), { previousSeq: rev });
    } catch (err) {
      if (isCasConflict(err)) {
        throw new SvcnetError(
          ErrorCode.Aborted,
          `Operation cannot be fulfilled on ${this.resource()} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
          { cause: err },
        );
      }
      throw storeUnavailable(err, `deleting ${this.key(namespace, name)}`);
    }
    return current;
  }
}

/** Opens (creating if needed) the state bucket: one value per key, no TTL. */
export async function openStateBucket(connection: StoreConnection): Promise<KV> {
  try {
    return await connection.bucket(STATE_BUCKET, { history: 1 });
  } catch (err) {
    throw storeUnavailable(err, `opening bucket ${STATE_BUCKET}`);
  }
}

/** The three typed stores of the state bucket. */
export interface StateStores {
  kv: KV;
  services: ObjectStore<Service>;
  pods: ObjectStore<Pod>;
  endpoints: ObjectStore<Endpoints>;
}

/** Opens the state bucket and returns a typed store per kind. */
export async function openStateStores(connection: StoreConnection): Promise<StateStores> {
  const kv = await openStateBucket(connection);
  return {
    kv,
    services: new ObjectStore<Service>({ connection, kv, kind: 'Service', codec: serviceCodec }),
    pods: new ObjectStore<Pod>({ connection, kv, kind: 'Pod', codec: podCodec }),
    endpoints: new ObjectStore<Endpoints>({ connection, kv, kind: 'Endpoints', codec: endpointsCodec }),
  };
}
