/**
 * One error type for the whole API, with a gRPC-aligned code. Domain code
 * throws it; each service edge maps it to a gRPC status exactly once.
 */
export const ErrorCode = {
  InvalidArgument: 'INVALID_ARGUMENT',
  NotFound: 'NOT_FOUND',
  AlreadyExists: 'ALREADY_EXISTS',
  FailedPrecondition: 'FAILED_PRECONDITION',
  ResourceExhausted: 'RESOURCE_EXHAUSTED',
  Aborted: 'ABORTED',
  Unavailable: 'UNAVAILABLE',
  Internal: 'INTERNAL',
  /** A stored record is damaged (it cannot be decoded); delete or overwrite it. */
  DataLoss: 'DATA_LOSS',
  /** No verified client identity (no client certificate signed by the cluster CA). */
  Unauthenticated: 'UNAUTHENTICATED',
  /** A known identity asked for something its role does not allow. */
  PermissionDenied: 'PERMISSION_DENIED',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface SvcnetErrorOptions {
  /** The offending field, in Kubernetes' path style (`spec.ports[0].port`). */
  field?: string;
  cause?: unknown;
}

/** An error a client can act on: a code, a message, and the field at fault. */
export class SvcnetError extends Error {
  override readonly name = 'SvcnetError';
  readonly code: ErrorCode;
  readonly field: string | undefined;

  constructor(code: ErrorCode, message: string, options: SvcnetErrorOptions = {}) {
    super(options.field ? `${options.field}: ${message}` : message, { cause: options.cause });
    this.code = code;
    this.field = options.field;
  }
}

/** A Kubernetes-style "Invalid value" error for one field. */
export function invalidField(field: string, value: unknown, detail: string): SvcnetError {
  return new SvcnetError(ErrorCode.InvalidArgument, `Invalid value: ${JSON.stringify(value)}: ${detail}`, { field });
}
