/**
 * An in-memory StateApi for the CLI's unit tests: just enough server behaviour
 * (ClusterIP and node port allocation, NOT_FOUND, ALREADY_EXISTS, port range
 * validation, resourceVersion CAS) to exercise the commands. Test code only.
 */
import { ErrorCode, SvcnetError, hasNodePorts, invalidField } from '@svcnet/model';
import type { Kind, KindObjects } from './resources.js';
import { PLURAL } from './resources.js';
import type { BrokenObject, ListQuery, ListResult, StateApi, WatchHandle, WatchUpdate } from '@svcnet/client';
import type { NodeInfo, NodeListResult, ProgrammedResult, WaitProgrammedQuery } from '@svcnet/client';

export class FakeStateApi implements StateApi {
  readonly objects = new Map<string, KindObjects[Kind]>();
  readonly calls: string[] = [];
  closed = false;
  private nextIp = 10;
  private nextNodePort = 30000;
  private revision = 0;

  constructor(private readonly now: () => Date) {}

  private key(kind: Kind, ns: string, name: string): string {
    return `${kind}/${ns}/${name}`;
  }

  private notFound(kind: Kind, name: string): SvcnetError {
    return new SvcnetError(ErrorCode.NotFound, `${PLURAL[kind]} "${name}" not found`);
  }

  private clone<T>(o: T): T {
    return structuredClone(o);
  }

  async get<K extends Kind>(kind: K, namespace: string, name: string): Promise<KindObjects[K]> {
    this.calls.push(`get ${kind} ${namespace}/${name}`);
    const o = this.objects.get(this.key(kind, namespace, name));
    if (!o) throw this.notFound(kind, name);
    return this.clone(o) as KindObjects[K];
  }

  /** Undecodable records a list reports, per kind (as the real server's `broken`). */
  readonly brokenRecords: { kind: Kind; record: BrokenObject }[] = [];

  async list<K extends Kind>(kind: K, query: ListQuery): Promise<ListResult<K>> {
    this.calls.push(`list ${kind} ${query.allNamespaces ? '*' : query.namespace} ${query.labelSelector}`);
    const wanted = Object.fromEntries(query.labelSelector.split(',').filter((p) => p).map((p) => p.split('=')));
    const items = [...this.objects.entries()]
      .filter(([k]) => k.startsWith(`${kind}/`))
      .map(([, o]) => o)
      .filter((o) => query.allNamespaces || o.metadata.namespace === query.namespace)
      .filter((o) => Object.entries(wanted).every(([k, v]) => o.metadata.labels[k] === v))
      .map((o) => this.clone(o) as KindObjects[K]);
    const broken = this.brokenRecords
      .filter((b) => b.kind === kind && (query.allNamespaces || b.record.namespace === query.namespace))
      .map((b) => ({ ...b.record }));
    return { items, broken };
  }

  private validate(kind: Kind, object: KindObjects[Kind]): void {
    if (kind !== 'Service') return;
    const svc = object as KindObjects['Service'];
    svc.spec.ports.forEach((p, i) => {
      if (p.port < 1 || p.port > 65535) {
        throw invalidField(`spec.ports[${i}].port`, p.port, 'must be between 1 and 65535, inclusive');
      }
    });
  }

  async create<K extends Kind>(kind: K, object: KindObjects[K]): Promise<KindObjects[K]> {
    const meta = object.metadata;
    this.calls.push(`create ${kind} ${meta.namespace}/${meta.name}`);
    const key = this.key(kind, meta.namespace, meta.name);
    if (this.objects.has(key)) throw new SvcnetError(ErrorCode.AlreadyExists, `${PLURAL[kind]} "${meta.name}" already exists`);
    this.validate(kind, object);
    const stored = this.clone(object);
    stored.metadata.uid = `uid-${++this.revision}`;
    stored.metadata.resourceVersion = this.revision;
    stored.metadata.creationTimestamp = this.now();
    if (kind === 'Service') {
      const svc = stored as KindObjects['Service'];
      if (!svc.spec.clusterIP) {
        svc.spec.clusterIP = `10.96.0.${this.nextIp++}`;
        svc.spec.clusterIPs = [svc.spec.clusterIP];
        svc.spec.ipFamilies = ['IPv4'];
      }
      if (hasNodePorts(svc.spec)) for (const p of svc.spec.ports) p.nodePort ||= this.nextNodePort++;
    }
    this.objects.set(key, stored);
    return this.clone(stored);
  }

  async update<K extends Kind>(kind: K, object: KindObjects[K]): Promise<KindObjects[K]> {
    const meta = object.metadata;
    this.calls.push(`update ${kind} ${meta.namespace}/${meta.name}`);
    const key = this.key(kind, meta.namespace, meta.name);
    const current = this.objects.get(key);
    if (!current) throw this.notFound(kind, meta.name);
    if (meta.resourceVersion && meta.resourceVersion !== current.metadata.resourceVersion) {
      throw new SvcnetError(ErrorCode.Aborted, 'the object has been modified; please apply your changes to the latest version and try again');
    }
    this.validate(kind, object);
    const stored = this.clone(object);
    stored.metadata.resourceVersion = ++this.revision;
    if (kind === 'Service') {
      const svc = stored as KindObjects['Service'];
      const was = current as KindObjects['Service'];
      if (svc.spec.clusterIP !== was.spec.clusterIP) {
        throw invalidField('spec.clusterIP', svc.spec.clusterIP, 'field is immutable');
      }
      if (hasNodePorts(svc.spec)) for (const p of svc.spec.ports) p.nodePort ||= this.nextNodePort++;
    }
    this.objects.set(key, stored);
    return this.clone(stored);
  }

  async delete<K extends Kind>(kind: K, namespace: string, name: string): Promise<void> {
    this.calls.push(`delete ${kind} ${namespace}/${name}`);
    if (!this.objects.delete(this.key(kind, namespace, name))) throw this.notFound(kind, name);
  }

  /** Scripted feed for `watch`: the current objects, SYNCED, then these updates, then the end. */
  readonly watchScript: WatchUpdate<Kind>[] = [];

  watch<K extends Kind>(kind: K, namespace: string, onUpdate: (u: WatchUpdate<K>) => void): WatchHandle {
    this.calls.push(`watch ${kind} ${namespace || '*'}`);
    const done = (async () => {
      const { items: current } = await this.list(kind, { namespace, allNamespaces: namespace === '', labelSelector: '' });
      for (const object of current) onUpdate({ type: 'ADDED', object, namespace: object.metadata.namespace, name: object.metadata.name });
      onUpdate({ type: 'SYNCED', namespace: '', name: '' });
      for (const u of this.watchScript) onUpdate(u as WatchUpdate<K>);
    })();
    return { done, cancel: () => undefined };
  }

  /** Nodes `listNodes`/`getNode` report, and the revision lags are measured against. */
  nodes: NodeInfo[] = [];
  nodesRevision = 0;
  /** What `waitProgrammed` answers (per call, in order; the last one repeats). */
  readonly waitAnswers: ((q: WaitProgrammedQuery) => ProgrammedResult)[] = [];
  readonly waits: WaitProgrammedQuery[] = [];

  async listNodes(refreshMs: number): Promise<NodeListResult> {
    this.calls.push(`listNodes ${refreshMs}`);
    return { items: structuredClone(this.nodes), revision: this.nodesRevision };
  }

  async getNode(name: string, refreshMs: number): Promise<NodeInfo> {
    this.calls.push(`getNode ${name} ${refreshMs}`);
    const n = this.nodes.find((x) => x.name === name);
    if (!n) throw new SvcnetError(ErrorCode.NotFound, `nodes "${name}" not found`);
    return structuredClone(n);
  }

  async waitProgrammed(q: WaitProgrammedQuery): Promise<ProgrammedResult> {
    this.waits.push(q);
    this.calls.push(`waitProgrammed ${q.namespace}/${q.name} ${q.revision} ${q.timeoutMs}`);
    if (q.name && !this.objects.has(this.key('Service', q.namespace, q.name))) throw this.notFound('Service', q.name);
    const answer = this.waitAnswers.length > 1 ? this.waitAnswers.shift()! : this.waitAnswers[0];
    return answer ? answer(q) : { programmed: true, revision: q.revision, programmedNodes: [], pendingNodes: [], notReadyNodes: [] };
  }

  close(): void {
    this.closed = true;
  }
}
