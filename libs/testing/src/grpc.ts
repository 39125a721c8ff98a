import type { ServiceError } from '@grpc/grpc-js';

/** Awaits a call expected to fail and returns its gRPC error; throws if the call succeeded. */
export async function grpcError(p: Promise<unknown>): Promise<ServiceError> {
  try {
    await p;
  } catch (err) {
    return err as ServiceError;
  }
  throw new Error('expected the call to fail');
}
