import { status, Metadata, type handleUnaryCall, type MethodDefinition, type ServerUnaryCall, type ServiceDefinition, type ServiceError } from '@grpc/grpc-js';
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
  DATA_LOSS: status.DATA_LOSS,
  UNAUTHENTICATED: status.UNAUTHENTICATED,
  PERMISSION_DENIED: status.PERMISSION_DENIED,
};

/** A status message is a header: keep it well inside HTTP/2 header limits whatever the error says. */
const MAX_STATUS_MESSAGE = 2048;

function capped(message: string): string {
  return message.length <= MAX_STATUS_MESSAGE ? message : `${message.slice(0, MAX_STATUS_MESSAGE)}...(${message.length} characters)`;
}

/** Metadata key carrying the offending field of an INVALID_ARGUMENT error. */
export const FIELD_METADATA_KEY = 'svcnet-field';

/**
 * The single mapping from domain errors to gRPC status, used at every service
 * edge. Unknown errors become INTERNAL with their message (never swallowed).
 */
export function toGrpcError(err: unknown): Partial<ServiceError> {
  if (err instanceof SvcnetError) {
    const metadata = new Metadata();
    if (err.field) metadata.set(FIELD_METADATA_KEY, capped(err.field));
    const message = capped(err.message);
    return { code: toStatus[err.code], details: message, message, metadata };
  }
  const message = capped(err instanceof Error ? err.message : String(err));
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

/** Decides whether a call may go ahead; throws UNAUTHENTICATED / PERMISSION_DENIED when not. */
export type CallAuthorizer = (call: Pick<ServerUnaryCall<unknown, unknown>, 'getAuthContext' | 'getPeer'>, method: string) => void;

/** What {@link unaryHandler} runs around each call. */
export interface UnaryHooks {
  observe?: CallObserver;
  authorize?: CallAuthorizer;
}

/**
 * A grpc-js unary handler around a promise-returning service method: the one
 * place where a service's domain errors become gRPC status, refusals are
 * logged at debug and real failures at error, and each call is observed.
 */
export function unaryHandler<Req, Res>(
  method: string,
  log: EdgeLogger,
  fn: (req: Req) => Promise<Res>,
  hooks: UnaryHooks = {},
): handleUnaryCall<Req, Res> {
  return (call, callback) => {
    const done = hooks.observe?.(method);
    let refusal = requestRefusal(call.request);
    try {
      // Who may call what is decided before the request is even looked at.
      hooks.authorize?.(call, method);
    } catch (err) {
      refusal = err instanceof SvcnetError ? err : new SvcnetError(ErrorCode.Internal, String(err));
    }
    (refusal ? Promise.reject(refusal) : fn(call.request)).then(
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

const UNDECODABLE = Symbol('svcnet.undecodable-request');

/** What a tolerant deserializer hands the handler instead of throwing. */
interface UndecodableRequest {
  [UNDECODABLE]: SvcnetError;
}

/** The refusal carried by a request the tolerant deserializer could not accept, if any. */
export function requestRefusal(request: unknown): SvcnetError | undefined {
  return typeof request === 'object' && request !== null && UNDECODABLE in request
    ? (request as UndecodableRequest)[UNDECODABLE]
    : undefined;
}

/** Largest request a svcnet server decodes: objects are stored whole, one NATS message each. */
export const MAX_REQUEST_BYTES = 512 * 1024;

/**
 * Wraps every method's request deserializer so that bytes that are not a valid
 * message, or more than `maxRequestBytes`, reach the handler as a refusal
 * (INVALID_ARGUMENT) instead of grpc-js's generic INTERNAL "Error
 * deserializing request". Handlers built with {@link unaryHandler} answer it.
 */
export function tolerantService<T extends ServiceDefinition>(definition: T, maxRequestBytes = MAX_REQUEST_BYTES): T {
  const wrapped: Record<string, MethodDefinition<unknown, unknown>> = {};
  for (const [name, method] of Object.entries(definition) as [string, MethodDefinition<unknown, unknown>][]) {
    const type = method.path.split('/').pop() ?? name;
    wrapped[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer): unknown => {
        if (bytes.length > maxRequestBytes) {
          return {
            [UNDECODABLE]: new SvcnetError(
              ErrorCode.InvalidArgument,
              `request is too large: ${bytes.length} bytes, the limit is ${maxRequestBytes} bytes (objects are stored whole in one NATS message)`,
            ),
          };
        }
        try {
          return method.requestDeserialize(bytes);
        } catch (err) {
          const detail = (err instanceof Error ? err.message : String(err)).slice(0, 200);
          return {
            [UNDECODABLE]: new SvcnetError(ErrorCode.InvalidArgument, `request to ${type} cannot be decoded: ${detail}`, { cause: err }),
          };
        }
      },
    };
  }
  return wrapped as unknown as T;
}
