import type { KV } from '@nats-io/kv';
import { ErrorCode, SvcnetError, kindKeyFilter, objectKey, parseObjectKey, STATE_BUCKET, validateNamespaceFilter, validateObjectKey } from '@svcnet/model';
import type { Endpoints, ObjectKind, ObjectMeta, Pod, Service } from '@svcnet/model';
import { endpointsCodec, podCodec, serviceCodec } from '@svcnet/api';
import { StoreConfigError, type StoreConnection } from './connection.js';
import { readSnapshot } from './kv-feed.js';
import { feedRepublish } from './fleet-feed.js';
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

/** A stored value that cannot be decoded, as lists report it. */
export interface BrokenRecord {
  namespace: string;
  name: string;
  revision: number;
  error: string;
}

/** A list read at one revision. */
export interface ObjectList<T> {
  items: T[];
  revision: number;
  /** Keys of the kind whose values cannot be decoded. */
  broken: BrokenRecord[];
}

/** What a delete removed: the object, or only its key when the value was undecodable. */
export interface Deleted<T> {
  namespace: string;
  name: string;
  /** Undefined when the stored value could not be decoded. */
  object: T | undefined;
}

/**
 * Largest encoded object written (NATS' default max_payload is 1 MiB and a KV
 * message carries headers too). Requests are capped lower at the gRPC edge; this
 * is the last guard, for any writer.
 */
export const MAX_OBJECT_BYTES = 1024 * 1024 - 16 * 1024;

function errorText(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).slice(0, 200);
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

  /**
   * The KV key of an object. Every read and write goes through here, so a name
   * no object can have (a NATS wildcard, a separator, kilobytes of it) is
   * refused with INVALID_ARGUMENT before it becomes a NATS subject.
   */
  key(namespace: string, name: string): string {
    validateObjectKey(this.kind, namespace, name);
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

  /** Fails at once while NATS is away: waiting would only end at the request deadline. */
  private requireConnected(action: string): void {
    if (!this.connection.connected) {
      throw new SvcnetError(
        ErrorCode.Unavailable,
        `store unavailable while ${action}: not connected to NATS (${this.connection.servers.join(',')}); reconnecting`,
      );
    }
  }

  private damaged(namespace: string, name: string, revision: number, err: unknown): SvcnetError {
    return new SvcnetError(
      ErrorCode.DataLoss,
      `stored ${this.resource()} "${name}" in namespace "${namespace}" (revision ${revision}) cannot be decoded: ${errorText(err)}; delete it (its owner may also overwrite it)`,
      { cause: err },
    );
  }

  /** The raw entry (or undefined when absent). */
  private async rawGet(namespace: string, name: string): Promise<{ value: Uint8Array; revision: number } | undefined> {
    this.requireConnected(`reading ${this.key(namespace, name)}`);
    let entry;
    try {
      entry = await this.kv.get(this.key(namespace, name));
    } catch (err) {
      throw storeUnavailable(err, `reading ${this.key(namespace, name)}`);
    }
    if (!entry || entry.operation !== 'PUT' || entry.length === 0) return undefined;
    return { value: entry.value, revision: entry.revision };
  }

  /** The object, or undefined when absent. UNAVAILABLE when NATS is down, DATA_LOSS when undecodable. */
  async tryGet(namespace: string, name: string): Promise<T | undefined> {
    const entry = await this.rawGet(namespace, name);
    if (!entry) return undefined;
    try {
      return this.withRevision(this.codec.decode(entry.value), entry.revision);
    } catch (err) {
      throw this.damaged(namespace, name, entry.revision, err);
    }
  }

  private encode(obj: T): Uint8Array {
    const bytes = this.codec.encode(obj);
    if (bytes.length > MAX_OBJECT_BYTES) {
      throw new SvcnetError(
        ErrorCode.InvalidArgument,
        `${this.resource()} "${obj.metadata.name}" is too large: ${bytes.length} bytes encoded, the limit is ${MAX_OBJECT_BYTES}`,
      );
    }
    return bytes;
  }

  /** The object; NOT_FOUND when absent. */
  async get(namespace: string, name: string): Promise<T> {
    const obj = await this.tryGet(namespace, name);
    if (!obj) throw this.notFound(namespace, name);
    return obj;
  }

  /** Every object of the kind (one namespace, or all). Undecodable values are skipped. */
  async list(namespace?: string): Promise<ObjectList<T>> {
    if (namespace) validateNamespaceFilter(namespace);
    this.requireConnected(`listing ${this.resource()}`);
    try {
      const snap = await readSnapshot({
        nc: this.connection.nc,
        bucket: this.bucket,
        filter: kindKeyFilter(this.kind, namespace),
      });
      const items: T[] = [];
      const broken: BrokenRecord[] = [];
      for (const e of snap.entries) {
        if (e.value.length === 0) continue;
        try {
          items.push(this.withRevision(this.codec.decode(e.value), e.revision));
        } catch (err) {
          const key = parseObjectKey(e.key);
          if (key) broken.push({ namespace: key.namespace, name: key.name, revision: e.revision, error: errorText(err) });
        }
      }
      return { items, revision: snap.revision, broken };
    } catch (err) {
      throw storeUnavailable(err, `listing ${this.resource()}`);
    }
  }

  /** Creates the object; ALREADY_EXISTS when the key holds a live value. */
  async create(obj: T): Promise<T> {
    const { namespace, name } = obj.metadata;
    const bytes = this.encode(obj);
    this.requireConnected(`creating ${this.key(namespace, name)}`);
    try {
      const rev = await this.kv.create(this.key(namespace, name), bytes);
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
    const bytes = this.encode(obj);
    this.requireConnected(`updating ${this.key(namespace, name)}`);
    try {
      const rev = await this.kv.update(this.key(namespace, name), bytes, expectedRevision);
      return this.withRevision(obj, rev);
    } catch (err) {
      if (isCasConflict(err)) {
        const current = await this.rawGet(namespace, name);
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

  /**
   * Deletes the object (CAS when expectedRevision is given); returns what was
   * deleted. A value that cannot be decoded is deleted too (that is how a
   * damaged record is removed), and reported with `object` undefined.
   */
  async delete(namespace: string, name: string, expectedRevision?: number): Promise<Deleted<T>> {
    const entry = await this.rawGet(namespace, name);
    if (!entry) throw this.notFound(namespace, name);
    let current: T | undefined;
    try {
      current = this.withRevision(this.codec.decode(entry.value), entry.revision);
    } catch {
      current = undefined;
    }
    const rev = expectedRevision ?? entry.revision;
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
    return { namespace, name, object: current };
  }
}

/** Opens (creating if needed, with `replicas` copies) the state bucket: one value per key, no TTL. */
export async function openStateBucket(connection: StoreConnection, options: { replicas?: number } = {}): Promise<KV> {
  try {
    return await connection.bucket(STATE_BUCKET, { history: 1, replicas: options.replicas ?? 1, republish: feedRepublish(STATE_BUCKET) });
  } catch (err) {
    if (err instanceof StoreConfigError) throw err;
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
export async function openStateStores(connection: StoreConnection, options: { replicas?: number } = {}): Promise<StateStores> {
  const kv = await openStateBucket(connection, options);
  return {
    kv,
    services: new ObjectStore<Service>({ connection, kv, kind: 'Service', codec: serviceCodec }),
    pods: new ObjectStore<Pod>({ connection, kv, kind: 'Pod', codec: podCodec }),
    endpoints: new ObjectStore<Endpoints>({ connection, kv, kind: 'Endpoints', codec: endpointsCodec }),
  };
}
