/**
 * --nodeport-addresses with real traffic (iptables mode, legacy): a node with
 * two addresses on the wire accepts a NodePort only on the one inside the
 * given CIDR, as kube-proxy does. A 1-node cluster in namespaces napa-…,
 * removed after; needs root.
 */
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from '@svcnet/cluster';
import { createService, nodePortOf, probeOnce, requests, summarize, TARGET_PORT, waitReachable, whoServer } from './harness.js';

const notRoot = process.getuid?.() === 0 ? undefined : 'needs root to create network namespaces';
const NAME = 'napa';

describe.skipIf(notRoot !== undefined)(`--nodeport-addresses, iptables (legacy)${notRoot ? ` — skipped: ${notRoot}` : ''}`, () => {
  let cluster: Cluster | undefined;
  /** A second address of node1 on the same wire, outside --nodeport-addresses. */
  let otherIp = '';

  beforeAll(async () => {
    process.env.XTABLES_LOCKFILE = join(tmpdir(), `svcnet-${NAME}.xtables.lock`);
    const nodeIp = '192.168.77.11';
    cluster = await Cluster.up({
      name: NAME,
      nodes: 1,
      proxyMode: 'iptables',
      iptables: 'legacy',
      extraArgs: { agent: ['--nodeport-addresses', `${nodeIp}/32`, '--sync-period', '2s', '--min-sync-period', '50ms'] },
    });
    if (cluster.skipped.length > 0) throw new Error(`cluster incomplete: ${cluster.skipped.join('; ')}`);
    expect(cluster.nodeIp('node1')).toBe(nodeIp);
    const node = cluster.state.plan.nodes[0]!;
    otherIp = '192.168.77.211';
    // The node's wire interface is eth0 inside its namespace (its peer in the wire namespace is node.wireVeth).
    await cluster.exec(node.name, ['ip', 'addr', 'add', `${otherIp}/24`, 'dev', 'eth0']);
    await cluster.addPod({ name: 'web-1', node: 'node1', labels: { app: 'web' }, ports: [{ port: TARGET_PORT }], command: whoServer(TARGET_PORT) });
  }, 120_000);

  afterAll(async () => {
    if (cluster) await cluster.down();
    else await Cluster.down({ name: NAME });
    delete process.env.XTABLES_LOCKFILE;
  });

  it('answers a NodePort on the address inside the CIDR and refuses it on the other one', async () => {
    const c = cluster!;
    const svc = await createService(c, { name: 'web-np', type: 'NodePort', selector: { app: 'web' } });
    const np = nodePortOf(svc);
    const nodeIp = c.nodeIp('node1');
    await waitReachable(c, 'ext', nodeIp, np);
    const ok = await requests(c, 'ext', nodeIp, np, 10);
    expect(ok.filter((r) => !r.ok), summarize(ok)).toEqual([]);

    // On the other address nothing DNATs: the node's own stack answers with a reset ("refused"),
    // which also shows the address is up and reachable (an unreachable one would time out).
    for (let i = 0; i < 3; i++) {
      const { reply } = await probeOnce(c, 'ext', otherIp, np, 2);
      expect(reply.ok, `NodePort on ${otherIp} answered by ${reply.pod}`).toBe(false);
      expect(reply.error).toMatch(/refused/i);
    }
    // The rule that makes the difference, as kube-proxy writes it.
    const save = (await c.exec('node1', ['iptables-legacy-save', '-t', 'nat'])).stdout;
    expect(save).toContain(`-A KUBE-SERVICES -d ${nodeIp}/32 -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS`);
  });
});
