import { describe, expect, it } from 'vitest';
import { FakeNetExec, NetExecError, ProcessNetExec } from './net-exec.js';

describe('ProcessNetExec', () => {
  const exec = new ProcessNetExec();

  it('feeds stdin and returns stdout without a shell', async () => {
    const r = await exec.run({ file: 'cat', args: [], input: 'a; echo injected' });
    expect(r.stdout).toBe('a; echo injected');
    expect(r.exitCode).toBe(0);
  });

  it('rejects with NetExecError carrying exit code and stderr', async () => {
    const err = await exec.run({ file: 'sh', args: ['-c', 'echo boom >&2; exit 3'] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetExecError);
    expect((err as NetExecError).exitCode).toBe(3);
    expect((err as NetExecError).stderr).toContain('boom');
  });

  it('resolves on failure when allowFailure is set', async () => {
    const r = await exec.run({ file: 'false', args: [], allowFailure: true });
    expect(r.exitCode).toBe(1);
  });

  it('reports a missing program as a NetExecError', async () => {
    await expect(exec.run({ file: 'no-such-program-svcnet', args: [] })).rejects.toBeInstanceOf(NetExecError);
  });
});

describe('FakeNetExec', () => {
  it('records calls and answers from the script, newest first', async () => {
    const fake = new FakeNetExec()
      .on({ file: 'iptables-save', result: { stdout: 'old' } })
      .on({ file: 'iptables-save', match: (r) => r.args.includes('-t'), result: { stdout: 'nat' } });
    expect((await fake.run({ file: 'iptables-save', args: ['-t', 'nat'] })).stdout).toBe('nat');
    expect((await fake.run({ file: 'iptables-save', args: [] })).stdout).toBe('old');
    expect(fake.callsTo('iptables-save')).toHaveLength(2);
  });

  it('fails when scripted to', async () => {
    const fake = new FakeNetExec().on({ file: 'iptables-restore', fail: { exitCode: 2, stderr: 'line 3 failed' } });
    await expect(fake.run({ file: 'iptables-restore', args: [] })).rejects.toThrow(/line 3 failed/);
  });
});
