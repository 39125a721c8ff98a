/**
 * How the e2e table looks into a node's kernel for one proxy mode: the rules
 * that belong to a service, everything the mode owns, and a way to delete the
 * mode's rules by hand. Each mode's e2e file passes its own inspector.
 */
import type { Service } from '@svcnet/model';
import type { Cluster } from '@svcnet/cluster';

export interface ModeInspector {
  /** Kernel lines in `node` that belong to `svc` (its `<ns>/<name>:` comments or its cluster IP). */
  serviceRules(cluster: Cluster, node: string, svc: Service): Promise<string[]>;
  /** Names of every object the mode owns in `node` (chains, tables, virtual servers…), sorted. */
  ownedObjects(cluster: Cluster, node: string): Promise<string[]>;
  /** Deletes the mode's rules behind the agent's back, as an operator might by mistake. */
  sabotage(cluster: Cluster, node: string): Promise<void>;
}

/** iptables mode, for one variant's binaries (`iptables-legacy` or `iptables-nft`). */
export function iptablesInspector(variant: 'legacy' | 'nft'): ModeInspector {
  const save = `iptables-${variant}-save`;
  const iptables = `iptables-${variant}`;
  const dump = async (cluster: Cluster, node: string): Promise<string[]> =>
    (await cluster.exec(node, [save])).stdout.split('\n');
  return {
    async serviceRules(cluster, node, svc) {
      const comment = `${svc.metadata.namespace}/${svc.metadata.name}:`;
      const ip = svc.spec.clusterIP ? `${svc.spec.clusterIP}/32` : undefined;
      return (await dump(cluster, node)).filter((l) => l.includes(comment) || (ip !== undefined && l.includes(ip)));
    },
    async ownedObjects(cluster, node) {
      let table = '';
      const out: string[] = [];
      for (const line of await dump(cluster, node)) {
        if (line.startsWith('*')) table = line.slice(1);
        const m = /^:(KUBE-\S+)/.exec(line);
        if (m) out.push(`${table}:${m[1]}`);
      }
      return out.sort();
    },
    async sabotage(cluster, node) {
      // Flushes every nat chain: the jumps from PREROUTING/OUTPUT/POSTROUTING and every KUBE-* rule.
      await cluster.exec(node, [iptables, '-w', '-t', 'nat', '-F']);
    },
  };
}

/** nftables mode: the table `ip svcnet`. */
export function nftablesInspector(): ModeInspector {
  const dump = async (cluster: Cluster, node: string): Promise<string[]> => {
    const r = await cluster.exec(node, ['nft', 'list', 'table', 'ip', 'svcnet'], { allowFailure: true });
    return r.exitCode === 0 ? r.stdout.split('\n') : [];
  };
  return {
    async serviceRules(cluster, node, svc) {
      const comment = `${svc.metadata.namespace}/${svc.metadata.name}:`;
      const element = svc.spec.clusterIP ? `${svc.spec.clusterIP} . ` : undefined;
      return (await dump(cluster, node)).filter((l) => l.includes(comment) || (element !== undefined && l.includes(element)));
    },
    async ownedObjects(cluster, node) {
      const out: string[] = [];
      for (const line of await dump(cluster, node)) {
        const m = /^\t(chain|map|set) (\S+) \{/.exec(line);
        if (m) out.push(`${m[1]} ${m[2]}`);
      }
      return out.sort();
    },
    async sabotage(cluster, node) {
      // Empties the dispatch chain: every service stops resolving until the agent notices.
      await cluster.exec(node, ['nft', 'flush', 'chain', 'ip', 'svcnet', 'services']);
    },
  };
}
