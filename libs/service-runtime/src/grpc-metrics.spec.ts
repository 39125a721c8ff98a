import { describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import { grpcCodeLabel } from './grpc-metrics.js';

describe('grpcCodeLabel', () => {
  it.each([
    [status.OK, 'OK'],
    [status.INVALID_ARGUMENT, 'InvalidArgument'],
    [status.ALREADY_EXISTS, 'AlreadyExists'],
    [status.RESOURCE_EXHAUSTED, 'ResourceExhausted'],
    [status.FAILED_PRECONDITION, 'FailedPrecondition'],
    [status.UNAVAILABLE, 'Unavailable'],
    [status.CANCELLED, 'Canceled'],
    [status.DEADLINE_EXCEEDED, 'DeadlineExceeded'],
    [99, '99'],
  ])('%s → %s (as go-grpc-prometheus labels it)', (code, label) => {
    expect(grpcCodeLabel(code)).toBe(label);
  });
});
