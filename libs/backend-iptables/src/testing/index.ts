// Test doubles of @svcnet/backend-iptables (`@svcnet/backend-iptables/testing`): for tests only, never for programs.
export { FakeIptablesExec } from './fake-iptables-exec.js';
export type { FakeIptablesExecParams, FakeIptablesVariant } from './fake-iptables-exec.js';
export { IptablesTables, IptablesRestoreError } from './iptables-tables.js';
export type { RestoreOptions, RestoreOutput } from './iptables-tables.js';
