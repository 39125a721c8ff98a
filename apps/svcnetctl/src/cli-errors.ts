/**
 * How failures reach the user, kubectl style: server errors as
 * `Error from server (<Reason>): <message>` and exit 1, usage errors as
 * `error: <message>` and exit 2.
 */
import { ClientConfigError, ServerUnreachableError } from '@svcnet/client';
import { ErrorCode, SvcnetError } from '@svcnet/model';
import { ManifestError } from './manifest/from-manifest.js';

/** Exit codes: 1 for failed operations, 2 for bad invocations (as commander and most CLIs use). */
export const ExitCode = { Ok: 0, Failed: 1, Usage: 2 } as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** A bad invocation: unknown resource type, missing argument, bad flag value. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** A client-side failure that is not the server's word (unreadable file, nothing to expose). */
export class CliError extends Error {
  override readonly name = 'CliError';
}

export { ServerUnreachableError };

/** Kubernetes' StatusReason for each of our codes, so messages read like kubectl's. */
const reasons: Record<ErrorCode, string> = {
  [ErrorCode.InvalidArgument]: 'Invalid',
  [ErrorCode.NotFound]: 'NotFound',
  [ErrorCode.AlreadyExists]: 'AlreadyExists',
  [ErrorCode.FailedPrecondition]: 'FailedPrecondition',
  [ErrorCode.ResourceExhausted]: 'ResourceExhausted',
  [ErrorCode.Aborted]: 'Conflict',
  [ErrorCode.Unavailable]: 'ServiceUnavailable',
  [ErrorCode.Internal]: 'InternalError',
  [ErrorCode.DataLoss]: 'DataLoss',
  [ErrorCode.Unauthenticated]: 'Unauthorized',
  [ErrorCode.PermissionDenied]: 'Forbidden',
};

export function reasonOf(code: ErrorCode): string {
  return reasons[code];
}

/**
 * The line printed for a failure (without newline) and the exit code.
 * `context` is kubectl's `error when creating "file.yaml"` prefix, if any.
 */
export function describeFailure(err: unknown, context?: string): { message: string; exitCode: ExitCode } {
  const prefix = context ? `${context}: ` : '';
  if (err instanceof SvcnetError) {
    return { message: `Error from server (${reasonOf(err.code)}): ${prefix}${err.message}`, exitCode: ExitCode.Failed };
  }
  if (err instanceof UsageError) return { message: `error: ${prefix}${err.message}`, exitCode: ExitCode.Usage };
  if (err instanceof ServerUnreachableError) return { message: err.message, exitCode: ExitCode.Failed };
  if (err instanceof ClientConfigError) return { message: `error: ${err.message}`, exitCode: ExitCode.Failed };
  if (err instanceof ManifestError || err instanceof CliError) {
    return { message: `error: ${prefix}${err.message}`, exitCode: ExitCode.Failed };
  }
  // A bug or an unexpected failure: say so plainly rather than hide it.
  const text = err instanceof Error ? (err.stack ?? err.message) : String(err);
  return { message: `error: ${prefix}${text}`, exitCode: ExitCode.Failed };
}
