import { ErrorCode, SvcnetError } from '@svcnet/model';

/** JetStream's "wrong last sequence" API error codes: a compare-and-set lost. */
const WRONG_LAST_SEQUENCE = new Set([10071, 10164]);

function apiCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** True when a KV create/update failed because the key moved on (CAS conflict). */
export function isCasConflict(err: unknown): boolean {
  const code = apiCode(err);
  if (code !== undefined && WRONG_LAST_SEQUENCE.has(code)) return true;
  return err instanceof Error && /wrong last sequence/i.test(err.message);
}

/**
 * Maps a NATS failure that is not a CAS conflict to UNAVAILABLE: the store is
 * down or slow, so the client may retry. Already-mapped errors pass through.
 */
export function storeUnavailable(err: unknown, action: string): SvcnetError {
  if (err instanceof SvcnetError) return err;
  const detail = err instanceof Error ? err.message : String(err);
  return new SvcnetError(ErrorCode.Unavailable, `store unavailable while ${action}: ${detail}`, { cause: err });
}
