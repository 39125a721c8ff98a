import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALLOCATION_BUCKETS, NODES_BUCKET, STATE_BUCKET, type NodeStatus, type Service } from '@svcnet/model';
import { nodeStatusCodec, serviceCodec } from '@svcnet/api';
import {
  connectStore,
  FeedSnapshotWriter,
  FleetFeed,
  KindFeed,
  KindWatcher,
  NodeStatusPublisher,
  nodeProgressSubject,
  NODE_PROBE_SUBJECT,
  openFeedBucket,
  openNodesBucket,
  openStateStores,
  StoreConfigError,
  type StoreConnection,
} from '@svcnet/store';
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

  it('one user per program and per node, each receiving replies on its own inbox only', () => {
    expect(auth.users.map((u) => u.user).sort()).toEqual([
      'svcnet-admin',
      'svcnet-agent-node1',
      'svcnet-agent-node2',
      'svcnet-allocator',
      'svcnet-dns',
      'svcnet-state',
    ]);
    const agent = auth.users.find((u) => u.user === 'svcnet-agent-node1')!;
    // Replies on its own inbox; besides, only the two broadcasts every agent needs (records, progress probes).
    expect(agent.permissions.subscribe).toEqual(['_INBOX_svcnet-agent-node1.>', 'svcnet.feed.svcnet-state.>', 'svcnet.nodes.probe']);
    // Its only KV write: its own node record.
    expect(agent.permissions.publish.filter((s) => s.startsWith('$KV.'))).toEqual([`$KV.${NODES_BUCKET}.node1`]);
  });

  it('the state service writes its bucket; agents read and watch it but cannot put or delete', async () => {
    const state = await as('svcnet-state');
    expect(state.user).toBe('svcnet-state');
    // Created as the state service creates it (republishing its records for the fleet feed).
    const kv = (await openStateStores(state)).kv;
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

  it('agents start from the state service\'s shared snapshot and follow the republished feed, with their own rights only', async () => {
    const state = await as('svcnet-state');
    const stores = await openStateStores(state);
    await stores.services.create(svc('fleet', 'one'));
    const writer = new FeedSnapshotWriter({ connection: state, feedKv: await openFeedBucket(state), prefixes: ['services.', 'endpoints.'], headDelayMs: 10 });
    await writer.start();
    try {
      await expect.poll(() => writer.heads, { timeout: 10_000 }).toBeGreaterThan(0);
      const agent = await as('svcnet-agent-node1');
      const seen: string[] = [];
      let source = '';
      const services = new KindFeed<Service>({
        kind: 'Service',
        codec: serviceCodec,
        handlers: { onUpsert: (o) => seen.push(o.metadata.name), onDelete: () => undefined, onSynced: () => undefined },
      });
      const feed = new FleetFeed({
        connection: agent,
        prefixes: ['services.', 'endpoints.'],
        handlers: {
          onBase: (b) => {
            source = b.source;
            services.applyBase(b);
          },
          onChange: (e) => void services.applyChange(e),
        },
      });
      await feed.start();
      expect(source).toMatch(/^snapshot /);
      expect(seen).toEqual(['one']);
      await stores.services.create(svc('fleet', 'two'));
      await expect.poll(() => seen).toEqual(['one', 'two']);
      expect(feed.gapRecordsFetched).toBe(0);
      await feed.stop();
      // Reading the snapshots is all an agent may do with the feed bucket.
      const feedKv = await agent.kvm.open('svcnet-feed', { bindOnly: true } as never);
      await expect(feedKv.put('head', new Uint8Array([1]))).rejects.toThrow(/permission|timeout/i);
    } finally {
      await writer.stop();
    }
  });

  it('an agent writes its own node record only; the state service reads every record and writes none', async () => {
    const state = await as('svcnet-state');
    await openNodesBucket(state, { ttlMs: 60_000 });
    const agent = await as('svcnet-agent-node1');
    const publisher = new NodeStatusPublisher({ connection: agent, nodeName: 'node1', status: () => nodeStatus('node1'), intervalMs: 60_000 });
    publisher.start();
    await expect.poll(() => publisher.writes).toBe(1);
    await publisher.stop();

    const nodes = await state.kvm.open(NODES_BUCKET);
    expect(nodeStatusCodec.decode((await nodes.get('node1'))!.value).nodeName).toBe('node1');
    await expect(nodes.put('node1', nodeStatusCodec.encode(nodeStatus('node1')))).rejects.toThrow(/permission|timeout/i);

    const agentNodes = await agent.kvm.open(NODES_BUCKET);
    await expect(agentNodes.put('node2', nodeStatusCodec.encode(nodeStatus('node2')))).rejects.toThrow(/permission|timeout/i);
    await expect(agentNodes.put('node1.evil', nodeStatusCodec.encode(nodeStatus('node1')))).rejects.toThrow(/permission|timeout/i);
    expect(await nodes.get('node2')).toBeNull();
    const dns = await as('svcnet-dns');
    await expect(dns.kvm.open(NODES_BUCKET).then((kv) => kv.put('node1', new Uint8Array([1])))).rejects.toThrow(/permission|timeout/i);
  });

  it('progress: the state service probes, an agent answers on its own subject and cannot speak for another node', async () => {
    const state = await as('svcnet-state');
    const agent = await as('svcnet-agent-node2');
    const heard: string[] = [];
    const sub = state.nc.subscribe('svcnet.nodes.progress.>', { callback: (_e, m) => void heard.push(`${m.subject} ${new TextDecoder().decode(m.data)}`) });
    await state.nc.flush();
    const publisher = new NodeStatusPublisher({ connection: agent, nodeName: 'node2', status: () => nodeStatus('node2'), intervalMs: 60_000 });
    publisher.start();
    await agent.nc.flush();
    publisher.noteProgrammed(5);
    state.nc.publish(NODE_PROBE_SUBJECT, new TextEncoder().encode(JSON.stringify({ revision: 9 })));
    await expect.poll(() => heard.length).toBe(1);
    publisher.noteProgrammed(9);
    await expect.poll(() => heard.length).toBe(2);
    expect(heard).toEqual([
      'svcnet.nodes.progress.node2 {"node":"node2","programmedRevision":5}',
      'svcnet.nodes.progress.node2 {"node":"node2","programmedRevision":9}',
    ]);
    // Another node's subject is refused by the server (the publish is dropped).
    agent.nc.publish(nodeProgressSubject('node1'), new TextEncoder().encode('{"node":"node1","programmedRevision":999}'));
    await agent.nc.flush();
    await new Promise((r) => setTimeout(r, 200));
    expect(heard).toHaveLength(2);
    await publisher.stop();
    sub.unsubscribe();
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

function svc(namespace: string, name: string): Service {
  return {
    metadata: { namespace, name, uid: `uid-${name}`, labels: {}, annotations: {}, resourceVersion: 0 },
    spec: {
      type: 'ClusterIP',
      clusterIP: '10.96.0.10',
      clusterIPs: ['10.96.0.10'],
      ipFamilies: ['IPv4'],
      ports: [{ name: '', protocol: 'TCP', port: 80, targetPort: 80, nodePort: 0 }],
      selector: {},
      sessionAffinity: 'None',
      sessionAffinityTimeoutSeconds: 0,
      externalTrafficPolicy: 'Cluster',
      internalTrafficPolicy: 'Cluster',
      externalIPs: [],
    },
  };
}

function nodeStatus(nodeName: string): NodeStatus {
  const now = new Date();
  return {
    nodeName,
    nodeIPs: ['10.0.0.1'],
    proxyMode: 'iptables',
    version: 'test',
    programmedRevision: 0,
    feedRevision: 0,
    lastSync: undefined,
    lastSyncErrors: [],
    counts: { services: 0, servicePorts: 0, endpoints: 0 },
    healthy: true,
    healthReason: '',
    feedConnected: true,
    heartbeatIntervalMs: 60_000,
    startedAt: now,
    registeredAt: now,
    reportedAt: now,
  };
}
