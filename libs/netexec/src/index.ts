// Public API of @svcnet/netexec: named exports only.
export { ProcessNetExec, FakeNetExec, NetExecError } from './net-exec.js';
export type { NetExec, ExecRequest, ExecResult, FakeResponse } from './net-exec.js';
export { NetnsLab, NetnsNameError, listNetns, netnsPids, killPids, deleteNetns, deleteNetnsByPrefix, e2eName } from './netns.js';
export type { NetnsLabOptions, VethParams } from './netns.js';
