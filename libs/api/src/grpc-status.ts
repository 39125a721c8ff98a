import { status, type handleUnaryCall, type ServiceError, Metadata } from '@grpc/grpc-js';
import { ErrorCode, SvcnetError } from '@svcnet/model';

const toStatus: Record<ErrorCode, status> = {
  INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  NOT_FOUND: status.NOT_FOUND,
  ALREADY_EXISTS: status.ALREADY_EXISTS,
  FAILED_PRECONDITION: status.FAILED_PRECONDITION,
  RESOURCE_EXHAUSTED: status.RESOURCE_EXHAUSTED,
  ABORTED: status.ABORTED,
  UNAVAILABLE: status.UNAVAILABLE,
  INTERNAL: status.INTERNAL,
};

/** Metadata key carrying the offending field of an INVALID_ARGUMENT error. */
export const FIELD_METADATA_KEY = 'svcnet-field';

/**
 * The single mapping from domain errors to gRPC status, used at every service
 * edge. Unknown errors become INTERNAL with their message (never swallowed).
 */
export function toGrpcError(err: unknown): Partial<ServiceError> {
  if (err instanceof SvcnetError) {
    const metadata = new Metadata();
    if (err.field) metadata.set(FIELD_METADATA_KEY, err.field);
    return { code: toStatus[err.code], details: err.message, message: err.message, metadata };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { code: status.INTERNAL, details: message, message };
}

const fromStatus = new Map<number, ErrorCode>(
  Object.entries(toStatus).map(([code, s]) => [s, code as ErrorCode]),
);

/** Turns a gRPC client error back into a SvcnetError (for clients of our services). */
export function fromGrpcError(err: unknown): SvcnetError {
  if (err instanceof SvcnetError) return err;
  const e = err as Partial<ServiceError>;
  const code = (e.code !== undefined && fromStatus.get(e.code)) || ErrorCode.Unavailable;
  const field = e.metadata?.get(FIELD_METADATA_KEY)[0];
  const message = e.details ?? e.message ?? String(err);
  const svcErr = new SvcnetError(code, message, { cause: err });
  return field ? Object.assign(svcErr, { field: String(field) }) : svcErr;
}

/** Where an edge logs refusals (debug) and failures (error); pino's Logger fits. */
export interface EdgeLogger {
  debug(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** Starts timing one call; the returned function records its gRPC code (GrpcServerMetrics.unary fits). */
export type CallObserver = (method: string) => (code: number) => void;

/**
 * A grpc-js unary handler around a promise-returning service method: the one
 * place where a service's domain errors become gRPC status, refusals are
 * logged at debug and real failures at error, and each call is observed.
 */
export function unaryHandler<Req, Res>(
  method: string,
  log: EdgeLogger,
  fn: (req: Req) => Promise<Res>,
  observe?: CallObserver,
): handleUnaryCall<Req, Res> {
  return (call, callback) => {
    const done = observe?.(method);
    fn(call.request).then(
      (res) => {
        callback(null, res);
        done?.(status.OK);
      },
      (err: unknown) => {
        const grpcError = toGrpcError(err);
        done?.(grpcError.code ?? status.UNKNOWN);
        if (err instanceof SvcnetError && err.code !== ErrorCode.Internal) {
          log.debug({ method, code: err.code, field: err.field, err: err.message }, 'request refused');
        } else {
          log.error({ method, err }, 'request failed');
        }
        callback(grpcError as ServiceError);
      },
    );
  };
}
