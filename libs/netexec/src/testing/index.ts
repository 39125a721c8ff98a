// Test doubles of @svcnet/netexec (`@svcnet/netexec/testing`): for tests only, never for programs.
export { KernelFakeExec } from './kernel-fake-exec.js';
export type { FakeOutcome, KernelFakeExecParams } from './kernel-fake-exec.js';
