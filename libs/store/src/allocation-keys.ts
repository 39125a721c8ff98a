import { ALLOCATION_BUCKETS } from '@svcnet/model';

export { ALLOCATION_BUCKETS };

/**
 * KV keys allow `[-/_=.a-zA-Z0-9]`; an IPv6 address has ':' so it is written
 * with '-' (never used in canonical IP text, so the mapping is reversible).
 */
export function allocationKey(value: string): string {
  return value.replaceAll(':', '-');
}

/** The value (IP or port) a key stands for. */
export function allocationValue(key: string): string {
  return key.replaceAll('-', ':');
}

/** What an allocation key holds. */
export interface AllocationRecord {
  /** The IP (canonical text) or the port in decimal. */
  readonly value: string;
  /** `<namespace>/<name>` of the owning service. */
  readonly owner: string;
  readonly allocatedAt: Date;
  /** The KV revision (stream sequence) of the entry. */
  readonly revision: number;
}

interface StoredAllocation {
  owner: string;
  allocatedAt: string;
}

/** JSON body of an allocation key. */
export function encodeAllocation(owner: string, allocatedAt: Date): Uint8Array {
  const body: StoredAllocation = { owner, allocatedAt: allocatedAt.toISOString() };
  return new TextEncoder().encode(JSON.stringify(body));
}

/** Parses an allocation key's body; a foreign or corrupt body keeps the key taken with owner "?". */
export function decodeAllocation(value: string, revision: number, body: Uint8Array): AllocationRecord {
  try {
    const parsed = JSON.parse(new TextDecoder().decode(body)) as Partial<StoredAllocation>;
    const allocatedAt = new Date(parsed.allocatedAt ?? 0);
    return { value, revision, owner: String(parsed.owner ?? '?'), allocatedAt };
  } catch {
    return { value, revision, owner: '?', allocatedAt: new Date(0) };
  }
}
