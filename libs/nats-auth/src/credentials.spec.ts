import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALLOCATION_BUCKETS, STATE_BUCKET } from '@svcnet/model';
import { connectStore, KindWatcher, StoreConfigError, type StoreConnection } from '@svcnet/store';
import { startNatsServer, type NatsServerHandle } from '@svcnet/testing';
import { generateNatsAuth, issueNatsUser, type NatsAuthBundle } from './credentials.js';
import { NatsRole } from './permissions.js';

// Real nats-server in operator mode with the generated configuration: each
// role can do what its program needs and nothing else.
describe('generated NATS credentials, per role, against a real nats-server', () => {
  let auth: NatsAuthBundle;
  let nats: NatsServerHandle;
  const dir = mkdtempSync(join(tmpdir(), 'svcnet-creds-'));
  const credsFile = (user: string): string => {
    const u = auth.users.find((x) => x.user === user);
    if (!u) throw new Error(`no user ${user}`);
    const path = join(dir, `${user}.creds`);
    writeFileSync(path, u.creds, { mode: 0o600 });
    return path;
  };
  const open: StoreConnection[] = [];
  const as = async (user: string): Promise<StoreConnection> => {
    const c = await connectStore({ url: nats.url, name: user, credsFile: credsFile(user), reconnectForever: false, requestTimeoutMs: 2000 });
    open.push(c);
    return c;
  };

  beforeAll(async () => {
    auth = await generateNatsAuth({ nodes: ['node1', 'node2'] });
    nats = await startNatsServer({ configText: auth.serverConfig });
  });
  afterAll(async () => {
    await Promise.all(open.map((c) => c.close()));
    await nats?.cleanup();
  });

  it('one user per program and per node, each with only its inbox', () => {
    expect(auth.users.map((u) => u.user).sort()).toEqual([
      'svcnet-admin',
      'svcnet-agent-node1',
      'svcnet-agent-node2',
      'svcnet-allocator',
      'svcnet-dns',
      'svcnet-state',
    ]);
    const agent = auth.users.find((u) => u.user === 'svcnet-agent-node1')!;
    expect(agent.permissions.subscribe).toEqual(['_INBOX_svcnet-agent-node1.>']);
    expect(agent.permissions.publish.some((s) => s.startsWith('$KV.'))).toBe(false);
  });

  it('the state service writes its bucket; agents read and watch it but cannot put or delete', async () => {
    const state = await as('svcnet-state');
    expect(state.user).toBe('svcnet-state');
    const kv = await state.bucket(STATE_BUCKET);
    await kv.put('services.default.web', new TextEncoder().encode('v1'));

    const agent = await as('svcnet-agent-node1');
    const seen: string[] = [];
    const watcher = new KindWatcher<string>({
      connection: agent,
      kind: 'Service',
      codec: { decode: (b) => new TextDecoder().decode(b) },
      handlers: { onUpsert: (o) => seen.push(o), onDelete: () => undefined, onSynced: () => undefined },
    });
    await watcher.start();
    expect(seen).toEqual(['v1']);
    await kv.put('services.default.web', new TextEncoder().encode('v2'));
    await expect.poll(() => seen).toEqual(['v1', 'v2']);
    await watcher.stop();

    const agentKv = await agent.kvm.open(STATE_BUCKET);
    expect(new TextDecoder().decode((await agentKv.get('services.default.web'))!.value)).toBe('v2');
    await expect(agentKv.put('services.default.web', new TextEncoder().encode('evil'))).rejects.toThrow(/permission|timeout/i);
    await expect(agentKv.delete('services.default.web')).rejects.toThrow(/permission|timeout/i);
    expect(new TextDecoder().decode((await kv.get('services.default.web'))!.value)).toBe('v2');
  });

  it('agents cannot read the allocation buckets; the allocator cannot read the state bucket', async () => {
    const allocator = await as('svcnet-allocator');
    const ips = await allocator.bucket(ALLOCATION_BUCKETS.clusterIps);
    await ips.create('10.96.0.10', new TextEncoder().encode('default/web'));
    const agent = await as('svcnet-agent-node2');
    await expect(agent.kvm.open(ALLOCATION_BUCKETS.clusterIps).then((kv) => kv.get('10.96.0.10'))).rejects.toThrow(/permission|timeout/i);
    await expect(allocator.kvm.open(STATE_BUCKET).then((kv) => kv.get('services.default.web'))).rejects.toThrow(/permission|timeout/i);
  });

  it('credentials the server does not know end the connect with the user named', async () => {
    const other = await generateNatsAuth({ nodes: ['x'] });
    const path = join(dir, 'foreign.creds');
    writeFileSync(path, other.users.find((u) => u.user === 'svcnet-state')!.creds);
    const err = await connectStore({ url: nats.url, name: 'x', credsFile: path }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreConfigError);
    expect((err as Error).message).toMatch(/--nats-creds: NATS at nats:\/\/127\.0\.0\.1:\d+ refused user "svcnet-state"/);
  });

  it('an unreadable or malformed credentials file is a clear setting error', async () => {
    await expect(connectStore({ url: nats.url, name: 'x', credsFile: join(dir, 'missing.creds') })).rejects.toThrow(/--nats-creds: cannot read/);
    const bad = join(dir, 'bad.creds');
    writeFileSync(bad, 'hello');
    await expect(connectStore({ url: nats.url, name: 'x', credsFile: bad })).rejects.toThrow(/not a NATS credentials file/);
  });

  it('a bucket that exists with another replica count is refused, not used', async () => {
    const admin = await as('svcnet-admin');
    await admin.bucket('svcnet-replica-check', { replicas: 1 });
    const err = await admin.bucket('svcnet-replica-check', { replicas: 3 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreConfigError);
    expect((err as Error).message).toMatch(/--kv-replicas: bucket svcnet-replica-check exists with 1 replica\(s\) but 3 were asked for/);
  });

  it('a user issued later with the account seed is trusted without a server change, with its role only', async () => {
    const later = await issueNatsUser({ accountSeed: auth.seeds.account, role: NatsRole.Agent, node: 'node3' });
    expect(later.user).toBe('svcnet-agent-node3');
    const path = join(dir, 'node3.creds');
    writeFileSync(path, later.creds, { mode: 0o600 });
    const c = await connectStore({ url: nats.url, name: 'node3', credsFile: path, reconnectForever: false, requestTimeoutMs: 2000 });
    open.push(c);
    expect(c.user).toBe('svcnet-agent-node3');
    const kv = await c.kvm.open(STATE_BUCKET);
    await expect(kv.put('services.default.evil', new TextEncoder().encode('x'))).rejects.toThrow(/permission|timeout/i);
  });

  it('issuing refuses a missing node, a node on a non-agent role and a seed that is not an account key', async () => {
    await expect(issueNatsUser({ accountSeed: auth.seeds.account, role: NatsRole.Agent })).rejects.toThrow(/needs its node name/);
    await expect(issueNatsUser({ accountSeed: auth.seeds.account, role: NatsRole.Agent, node: 'Bad_Node' })).rejects.toThrow(/DNS-1123/);
    await expect(issueNatsUser({ accountSeed: auth.seeds.account, role: NatsRole.Dns, node: 'n1' })).rejects.toThrow(/only agent users/);
    await expect(issueNatsUser({ accountSeed: auth.seeds.operator, role: NatsRole.Dns })).rejects.toThrow(/not an account key/);
    await expect(issueNatsUser({ accountSeed: 'SAnope', role: NatsRole.Dns })).rejects.toThrow(/not an nkey seed/);
  });
});
