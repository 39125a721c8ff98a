/**
 * The shared per-mode data-plane table (dataplane-cases.ts) in userspace mode: a 2-node namespace cluster whose agents run
 * `--proxy-mode userspace`, with real traffic. Needs root; namespaces are
 * named uspc-… and removed after.
 */
import { runDataplaneSuite } from './dataplane-cases.js';
import { e2eName } from '@svcnet/testing';
import type { Cluster } from '@svcnet/cluster';
import type { Service } from '@svcnet/model';

const notRoot = process.getuid?.() === 0 ? undefined : 'needs root to create network namespaces';

/** iptables lines in the node that the userspace mode owns (nat portals + filter reject). */
async function ownedLines(cluster: Cluster, node: string): Promise<string[]> {
  const save = (await cluster.exec(node, ['iptables-save'])).stdout.split('\n');
  return save.filter((l) => /KUBE-(PORTALS|NODEPORT)-/.test(l));
}

const userspaceInspector = {
  async serviceRules(cluster: Cluster, node: string, svc: Service): Promise<string[]> {
    const comment = `${svc.metadata.namespace}/${svc.metadata.name}:`;
    const ip = svc.spec.clusterIP ? `${svc.spec.clusterIP}/32` : undefined;
    return (await ownedLines(cluster, node)).filter((l) => l.includes(comment) || (ip !== undefined && l.includes(ip)));
  },
  async ownedObjects(cluster: Cluster, node: string): Promise<string[]> {
    let table = '';
    const out: string[] = [];
    for (const line of (await cluster.exec(node, ['iptables-save'])).stdout.split('\n')) {
      if (line.startsWith('*')) table = line.slice(1);
      const m = /^:(KUBE-\S+)/.exec(line);
      if (m) out.push(`${table}:${m[1]}`);
    }
    return out.sort();
  },
  async sabotage(cluster: Cluster, node: string): Promise<void> {
    // Flushes every nat chain: the PREROUTING/OUTPUT jumps and every portal.
    await cluster.exec(node, ['iptables', '-w', '-t', 'nat', '-F']);
  },
};

runDataplaneSuite({
  mode: 'userspace',
  clusterName: e2eName('uspc'),
  inspector: userspaceInspector,
  // A userspace proxy terminates the connection and dials the pod itself: pods see the node, never the client.
  preservesSource: false,
  skip: {
    'masquerade: --masquerade-all masquerades pods too; without --cluster-cidr (no local traffic detector) nothing is masqueraded by source and pods count as outside clients':
      'the userspace proxy dials every endpoint from the node, so every connection is effectively masqueraded whatever the flags',
  },
  ...(notRoot ? { skipAll: notRoot } : {}),
});
