import { status, type ServiceError } from '@grpc/grpc-js';

/**
 * No server answered: refused, unresolvable, a TLS handshake that failed, or
 * no answer before the deadline. The message reads like kubectl's.
 */
export class ServerUnreachableError extends Error {
  override readonly name = 'ServerUnreachableError';
  constructor(
    readonly server: string,
    message = `The connection to the server ${server} was refused - did you specify the right host or port?`,
    options?: { cause?: unknown; neverConnected?: boolean },
  ) {
    super(message, options);
    this.neverConnected = options?.neverConnected ?? false;
  }
  /** True when the call certainly never reached a server (safe to send elsewhere, even a write). */
  readonly neverConnected: boolean;
}

/**
 * grpc-js's own words when it could not reach the server at all (anchored: a
 * server's UNAVAILABLE may quote such an error from its own upstream, e.g. the
 * state service relaying that the allocator is down).
 */
const CLIENT_SIDE_UNREACHABLE = /^(No connection established|connect ECONNREFUSED|Name resolution failed)/;

/** Node's and OpenSSL's words for a server certificate that does not verify. */
const TLS_VERIFY = /certificate|self[- ]signed|unable to verify|CERT_|altnames|Hostname\/IP does not match/i;

/**
 * The client-side failures of a call, as ServerUnreachableError with a clear
 * message; undefined when a server answered (its error is the server's word).
 */
export function classifyTransportError(server: string, err: ServiceError): ServerUnreachableError | undefined {
  if (err.code === status.UNAVAILABLE && CLIENT_SIDE_UNREACHABLE.test(err.details)) {
    if (TLS_VERIFY.test(err.details)) {
      const why = /Last error: (?:Error: )?([^.]*(?:\.[^ ][^.]*)*)/.exec(err.details)?.[1] ?? err.details;
      return new ServerUnreachableError(server, `Unable to connect to the server ${server}: tls: failed to verify the server certificate: ${why.trim()} (check certificate-authority)`, {
        cause: err,
        neverConnected: true,
      });
    }
    return new ServerUnreachableError(server, undefined, { cause: err, neverConnected: true });
  }
  if (err.code === status.DEADLINE_EXCEEDED) {
    return new ServerUnreachableError(server, `Unable to connect to the server ${server}: ${err.details}`, { cause: err });
  }
  return undefined;
}
