import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeStatus } from '@svcnet/model';
import { startNatsServer, type NatsServerHandle } from '@svcnet/testing';
import { connectStore, type StoreConnection } from './connection.js';
import { NODE_PROBE_SUBJECT, NODE_PROGRESS_WILDCARD, NodeStatusPublisher, openNodesBucket, type NodeProbe, type NodeProgressReport } from './node-records.js';

const status = (name: string): NodeStatus => ({
  nodeName: name,
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
  startedAt: new Date(),
  registeredAt: new Date(),
  reportedAt: new Date(),
});

describe('NodeStatusPublisher progress answers, against a real nats-server', () => {
  let nats: NatsServerHandle;
  let conn: StoreConnection;
  let prober: StoreConnection;

  beforeAll(async () => {
    nats = await startNatsServer();
    conn = await connectStore({ url: nats.url, name: 'node-records-agent' });
    prober = await connectStore({ url: nats.url, name: 'node-records-prober' });
    await openNodesBucket(prober, { ttlMs: 60_000 });
  }, 30_000);

  afterAll(async () => {
    await conn?.close();
    await prober?.close();
    await nats?.cleanup();
  });

  /** A publisher and the answers it sent, as the state service receives them. */
  async function agent(name: string) {
    const answers: number[] = [];
    const sub = prober.nc.subscribe(NODE_PROGRESS_WILDCARD, {
      callback: (_err, m) => {
        const r = JSON.parse(new TextDecoder().decode(m.data)) as NodeProgressReport;
        if (r.node === name) answers.push(r.programmedRevision);
      },
    });
    const publisher = new NodeStatusPublisher({ connection: conn, nodeName: name, status: () => status(name), intervalMs: 60_000 });
    publisher.start();
    await conn.nc.flush();
    await prober.nc.flush();
    const probe = async (p: NodeProbe): Promise<void> => {
      prober.nc.publish(NODE_PROBE_SUBJECT, new TextEncoder().encode(JSON.stringify(p)));
      await prober.nc.flush();
      await conn.nc.flush();
      await prober.nc.flush();
    };
    const settle = async (): Promise<void> => {
      await conn.nc.flush();
      await prober.nc.flush();
    };
    return { publisher, answers, probe, settle, stop: async () => (sub.unsubscribe(), await publisher.stop()) };
  }

  it('a plain probe is answered at once wherever the node is, and again when it gets there', async () => {
    const a = await agent('plain');
    a.publisher.noteProgrammed(3);
    await a.probe({ revision: 5 });
    expect(a.answers).toEqual([3]);
    a.publisher.noteProgrammed(4);
    await a.settle();
    expect(a.answers).toEqual([3]);
    a.publisher.noteProgrammed(6);
    await a.settle();
    expect(a.answers).toEqual([3, 6]);
    await a.stop();
  });

  it('whenProgrammed: no answer from a node still behind; at once from a node already there', async () => {
    const a = await agent('quiet');
    a.publisher.noteProgrammed(3);
    await a.probe({ revision: 5, whenProgrammed: true });
    expect(a.answers).toEqual([]);
    await a.probe({ revision: 2, whenProgrammed: true });
    expect(a.answers).toEqual([3]);
    a.publisher.noteProgrammed(5);
    await a.settle();
    expect(a.answers).toEqual([3, 5]);
    await a.stop();
  });

  it('answers each waited-for revision when it is reached, not only the highest', async () => {
    const a = await agent('several');
    a.publisher.noteProgrammed(1);
    await a.probe({ revision: 10, whenProgrammed: true });
    await a.probe({ revision: 20, whenProgrammed: true });
    a.publisher.noteProgrammed(12);
    await a.settle();
    // The wait for 10 ends here; with only the highest kept it would last until 20.
    expect(a.answers).toEqual([12]);
    a.publisher.noteProgrammed(15);
    await a.settle();
    expect(a.answers).toEqual([12]);
    a.publisher.noteProgrammed(25);
    await a.settle();
    expect(a.answers).toEqual([12, 25]);
    await a.stop();
  });
});
