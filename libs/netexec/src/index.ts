// Public API of @svcnet/netexec: named exports only.
export { ProcessNetExec, FakeNetExec, NetExecError } from './net-exec.js';
export type { NetExec, ExecRequest, ExecResult, FakeResponse } from './net-exec.js';
