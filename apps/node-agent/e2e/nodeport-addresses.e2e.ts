/**
 * --nodeport-addresses with real traffic: a node with two addresses on the wire
 * accepts a NodePort only on the one inside the given CIDR, as kube-proxy does —
 * in iptables mode (legacy) and in userspace mode. One 1-node cluster per mode
 * (namespaces napa-… / napu-…), removed after; needs root.
 */
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, type ProxyModeName } from '@svcnet/cluster';
import { e2eName } from '@svcnet/testing';
import { createService, nodePortOf, probeOnce, requests, summarize, TARGET_PORT, waitReachable, whoServer } from './harness.js';

const notRoot = process.getuid?.() === 0 ? undefined : 'needs root to create network namespaces';
const NODE_IP = '192.168.77.11';
/** A second address of node1 on the same wire, outside --nodeport-addresses. */
const OTHER_IP = '192.168.77.211';

interface ModeCase {
  mode: ProxyModeName;
  name: string;
  /** The node-port rule that makes the difference, as iptables-save prints it. */
  rule: (nodePort: number) => RegExp;
}

const modes: ModeCase[] = [
  {
    mode: 'iptables',
    name: 'napa',
    rule: () => /^-A KUBE-SERVICES -d 192\.168\.77\.11\/32 -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS$/m,
  },
  {
    mode: 'userspace',
    name: 'napu',
    rule: (np) => new RegExp(`^-A KUBE-NODEPORT-CONTAINER -d 192\\.168\\.77\\.11/32 -p tcp -m comment --comment "default/web-np: node port" -m tcp --dport ${np} -j REDIRECT --to-ports \\d+$`, 'm'),
  },
];

for (const m of modes) {
  describe.skipIf(notRoot !== undefined)(`--nodeport-addresses, ${m.mode}${notRoot ? ` — skipped: ${notRoot}` : ''}`, () => {
    let cluster: Cluster | undefined;

    beforeAll(async () => {
      process.env.XTABLES_LOCKFILE = join(tmpdir(), `svcnet-${m.name}.xtables.lock`);
      cluster = await Cluster.up({
        name: e2eName(m.name),
        nodes: 1,
        proxyMode: m.mode,
        iptables: 'legacy',
        extraArgs: { agent: ['--nodeport-addresses', `${NODE_IP}/32`, '--sync-period', '2s', '--min-sync-period', '50ms'] },
      });
      if (cluster.skipped.length > 0) throw new Error(`cluster incomplete: ${cluster.skipped.join('; ')}`);
      expect(cluster.nodeIp('node1')).toBe(NODE_IP);
      // The node's wire interface is eth0 inside its namespace (its peer in the wire namespace is node.wireVeth).
      await cluster.exec('node1', ['ip', 'addr', 'add', `${OTHER_IP}/24`, 'dev', 'eth0']);
      await cluster.addPod({ name: 'web-1', node: 'node1', labels: { app: 'web' }, ports: [{ port: TARGET_PORT }], command: whoServer(TARGET_PORT) });
    }, 120_000);

    afterAll(async () => {
      if (cluster) await cluster.down();
      else await Cluster.down({ name: e2eName(m.name) });
      delete process.env.XTABLES_LOCKFILE;
    });

    it('answers a NodePort on the address inside the CIDR and refuses it on the other one', async () => {
      const c = cluster!;
      const svc = await createService(c, { name: 'web-np', type: 'NodePort', selector: { app: 'web' } });
      const np = nodePortOf(svc);
      await waitReachable(c, 'ext', NODE_IP, np);
      const ok = await requests(c, 'ext', NODE_IP, np, 10);
      expect(ok.filter((r) => !r.ok), summarize(ok)).toEqual([]);
      // On the other address nothing redirects: the node's own stack answers with a reset ("refused"),
      // which also shows the address is up and reachable (an unreachable one would time out).
      for (let i = 0; i < 3; i++) {
        const { reply } = await probeOnce(c, 'ext', OTHER_IP, np, 2);
        expect(reply.ok, `NodePort on ${OTHER_IP} answered by ${reply.pod}`).toBe(false);
        expect(reply.error).toMatch(/refused/i);
      }
      // The agent picks its iptables variant (userspace mode: the system's default); read both.
      const save = [
        (await c.exec('node1', ['iptables-legacy-save', '-t', 'nat'])).stdout,
        (await c.exec('node1', ['iptables-nft-save', '-t', 'nat'])).stdout,
      ].join('\n');
      expect(save, save.split('\n').filter((l) => /NODEPORT/.test(l)).join('\n')).toMatch(m.rule(np));
    });
  });
}
