import type { Endpoints, Service } from '@svcnet/model';
import { inZone, isReverseName, namesUpTo } from './names.js';
import {
  apexRecords,
  clusterIPsOf,
  nameServerName,
  serviceRecords,
  soaRecord,
  type NamedRecord,
  type RecordData,
} from './records.js';

/** Where a name stands in the zone. */
export const LookupKind = {
  /** The name exists (it may hold no record of the asked type: NODATA). */
  Found: 'found',
  /** In the cluster domain but no such name. */
  NxDomain: 'nxdomain',
  /** Outside everything this server is authoritative for (forward or refuse). */
  OutOfZone: 'out-of-zone',
} as const;
export type LookupKind = (typeof LookupKind)[keyof typeof LookupKind];

/** What the zone holds for a name. */
export interface LookupResult {
  kind: LookupKind;
  records: readonly RecordData[];
}

interface NameEntry {
  /** Records at this name, with the owner (service key) that contributed each. */
  records: { owner: string; record: RecordData }[];
  /** Records at or below this name: while > 0 the name exists (an empty non-terminal at least). */
  refs: number;
}

/** Parameters of a {@link ClusterZone}. */
export interface ClusterZoneParams {
  /** The cluster domain, e.g. `cluster.local`. */
  domain: string;
  ttlSeconds: number;
}

const APEX_OWNER = '<apex>';
const NS_OWNER = '<ns>';
/** The service whose cluster IPs answer for `ns.dns.<domain>`, as kube-dns's do in Kubernetes. */
const DNS_SERVICE_KEY = 'kube-system/kube-dns';
const NOTHING: readonly RecordData[] = [];

/**
 * The cluster's records in memory, indexed by name, rebuilt per service on
 * each Service or Endpoints change (so a change costs the size of one service,
 * never the zone). Names are canonical (lower case, no trailing dot).
 */
export class ClusterZone {
  readonly domain: string;
  readonly ttlSeconds: number;
  private readonly services = new Map<string, Service>();
  private readonly endpoints = new Map<string, Endpoints>();
  private readonly owned = new Map<string, NamedRecord[]>();
  private readonly names = new Map<string, NameEntry>();
  private recordCount = 0;
  private serialValue: number;
  /** Bumped on every change; response caches compare it. */
  generation = 0;

  constructor(params: ClusterZoneParams) {
    this.domain = params.domain.toLowerCase().replace(/\.$/, '');
    this.ttlSeconds = params.ttlSeconds;
    this.serialValue = Math.floor(Date.now() / 1000) >>> 0;
    this.place(APEX_OWNER, apexRecords({ domain: this.domain, ttlSeconds: this.ttlSeconds, serial: this.serialValue }));
  }

  /** Services held. */
  get serviceCount(): number {
    return this.services.size;
  }

  /** Distinct names that hold records (empty non-terminals not counted). */
  get nameCount(): number {
    let n = 0;
    for (const entry of this.names.values()) if (entry.records.length > 0) n++;
    return n;
  }

  /** Records held. */
  get size(): number {
    return this.recordCount;
  }

  /** The SOA serial: changes with every change of the zone. */
  get serial(): number {
    return this.serialValue;
  }

  upsertService(svc: Service): void {
    const key = `${svc.metadata.namespace}/${svc.metadata.name}`;
    this.services.set(key, svc);
    this.rebuild(key);
  }

  deleteService(namespace: string, name: string): void {
    const key = `${namespace}/${name}`;
    if (!this.services.delete(key)) return;
    this.rebuild(key);
  }

  upsertEndpoints(ep: Endpoints): void {
    const key = `${ep.metadata.namespace}/${ep.metadata.name}`;
    this.endpoints.set(key, ep);
    // Only headless services' records depend on endpoints.
    if (this.services.has(key)) this.rebuild(key);
  }

  deleteEndpoints(namespace: string, name: string): void {
    const key = `${namespace}/${name}`;
    if (!this.endpoints.delete(key)) return;
    if (this.services.has(key)) this.rebuild(key);
  }

  /** What the zone holds at `name` (canonical). */
  lookup(name: string): LookupResult {
    const entry = this.names.get(name);
    if (entry) return { kind: LookupKind.Found, records: entry.records.length === 1 ? [entry.records[0]!.record] : entry.records.map((r) => r.record) };
    if (inZone(name, this.domain)) return { kind: LookupKind.NxDomain, records: NOTHING };
    return { kind: LookupKind.OutOfZone, records: NOTHING };
  }

  /** The SOA record for authority sections (current serial). */
  soa(): RecordData {
    return soaRecord({ domain: this.domain, ttlSeconds: this.ttlSeconds, serial: this.serialValue });
  }

  /** Every (name, record) held, for dumps and tests. */
  *entries(): IterableIterator<NamedRecord> {
    for (const [name, entry] of this.names) for (const r of entry.records) yield { name, record: r.record };
  }

  private rebuild(key: string): void {
    const svc = this.services.get(key);
    const records = svc ? serviceRecords(svc, this.endpoints.get(key), this.domain) : [];
    this.unplace(key);
    if (records.length > 0) this.place(key, records);
    if (key === DNS_SERVICE_KEY) this.rebuildNameServer();
    this.changed();
  }

  private rebuildNameServer(): void {
    this.unplace(NS_OWNER);
    const svc = this.services.get(DNS_SERVICE_KEY);
    if (!svc) return;
    const name = nameServerName(this.domain);
    const records = clusterIPsOf(svc).flatMap((ip): NamedRecord[] =>
      ip.includes(':') ? [{ name, record: { type: 'AAAA', data: ip } }] : [{ name, record: { type: 'A', data: ip } }],
    );
    this.place(NS_OWNER, records);
  }

  private changed(): void {
    this.generation++;
    this.serialValue = (this.serialValue + 1) >>> 0;
    const apex = this.names.get(this.domain);
    const soa = apex?.records.find((r) => r.record.type === 'SOA');
    if (soa) soa.record = this.soa();
  }

  /** The names whose existence a record at `name` implies (reverse names: only itself). */
  private existenceChain(name: string): string[] {
    if (isReverseName(name) || !inZone(name, this.domain)) return [name];
    return namesUpTo(name, this.domain);
  }

  private place(owner: string, records: NamedRecord[]): void {
    this.owned.set(owner, records);
    for (const { name, record } of records) {
      const chain = this.existenceChain(name);
      for (const n of chain) {
        let entry = this.names.get(n);
        if (!entry) {
          entry = { records: [], refs: 0 };
          this.names.set(n, entry);
        }
        entry.refs++;
        if (n === name) entry.records.push({ owner, record });
      }
      this.recordCount++;
    }
  }

  private unplace(owner: string): void {
    const records = this.owned.get(owner);
    if (!records) return;
    this.owned.delete(owner);
    for (const { name, record } of records) {
      for (const n of this.existenceChain(name)) {
        const entry = this.names.get(n);
        if (!entry) continue;
        entry.refs--;
        if (n === name) {
          const i = entry.records.findIndex((r) => r.owner === owner && r.record === record);
          if (i >= 0) entry.records.splice(i, 1);
        }
        if (entry.refs <= 0 && entry.records.length === 0) this.names.delete(n);
      }
      this.recordCount--;
    }
  }
}
