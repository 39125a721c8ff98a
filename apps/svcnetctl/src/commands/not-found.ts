import { ErrorCode, SvcnetError } from '@svcnet/model';

/** True for the server's NOT_FOUND (e.g. a service whose Endpoints object does not exist yet). */
export function isNotFound(err: unknown): boolean {
  return err instanceof SvcnetError && err.code === ErrorCode.NotFound;
}
