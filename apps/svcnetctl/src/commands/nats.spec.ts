import { mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, type CliDeps } from '../cli.js';

async function run(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const deps: CliDeps = {
    env: {},
    connect: () => {
      throw new Error('nats commands never dial the state service');
    },
    io: {
      stdout: (t) => void (stdout += t),
      stderr: (t) => void (stderr += t),
      readFile: async () => '',
      expandPath: async (p) => [p],
      now: () => new Date(0),
    },
  };
  const code = await runCli(argv, deps);
  return { code, stdout, stderr };
}

const mode = (path: string): number => statSync(path).mode & 0o777;

describe('svcnetctl nats init|issue', () => {
  it('writes the auth block, one private credentials file per user and the seeds; issue adds a node', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'svcnetctl-nats-')), 'nats');
    const init = await run('nats', 'init', '--dir', dir, '--nodes', 'node-a,node-b');
    expect(init.code).toBe(0);
    expect(readdirSync(dir).sort()).toEqual([
      'auth.conf',
      'seeds.json',
      'svcnet-admin.creds',
      'svcnet-agent-node-a.creds',
      'svcnet-agent-node-b.creds',
      'svcnet-allocator.creds',
      'svcnet-dns.creds',
      'svcnet-state.creds',
    ]);
    expect(readFileSync(join(dir, 'auth.conf'), 'utf8')).toMatch(/^operator: eyJ/m);
    expect(mode(join(dir, 'seeds.json'))).toBe(0o600);
    expect(mode(join(dir, 'svcnet-state.creds'))).toBe(0o600);
    expect(readFileSync(join(dir, 'svcnet-state.creds'), 'utf8')).toMatch(/BEGIN NATS USER JWT[\s\S]*BEGIN USER NKEY SEED/);

    const issue = await run('nats', 'issue', '--dir', dir, '--role', 'agent', '--node', 'node-c');
    expect(issue).toMatchObject({ code: 0, stdout: `[nats] svcnet-agent-node-c: ${join(dir, 'svcnet-agent-node-c.creds')}\n` });
    expect(mode(join(dir, 'svcnet-agent-node-c.creds'))).toBe(0o600);
  });

  it('refuses to replace an installation without --force, and bad roles, nodes and directories', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'svcnetctl-nats-'));
    expect((await run('nats', 'init', '--dir', dir, '--no-dns')).code).toBe(0);
    expect(readdirSync(dir)).not.toContain('svcnet-dns.creds');
    const seeds = readFileSync(join(dir, 'seeds.json'), 'utf8');
    const again = await run('nats', 'init', '--dir', dir);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/seeds\.json exists.*--force/);
    expect(readFileSync(join(dir, 'seeds.json'), 'utf8')).toBe(seeds);

    expect((await run('nats', 'issue', '--dir', dir, '--role', 'root')).stderr).toMatch(/--role root: one of allocator, state, agent, dns, admin/);
    expect((await run('nats', 'issue', '--dir', dir, '--role', 'agent')).stderr).toMatch(/needs its node name/);
    expect((await run('nats', 'issue', '--dir', join(dir, 'none'), '--role', 'dns')).stderr).toMatch(/cannot read .*seeds\.json/);
    expect((await run('nats', 'init', '--dir', join(dir, 'x'), '--nodes', 'UPPER')).stderr).toMatch(/--nodes: node "UPPER"/);
  });
});
