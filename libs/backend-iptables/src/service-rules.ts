import type { EndpointInfo, NodeConfig, ServicePortInfo } from '@svcnet/proxy-core';
import { endpointChainNameOf, quoteComment, serviceChainNames } from './names.js';

/** kube-proxy's chains that are always present. */
export const Chain = {
  services: 'KUBE-SERVICES',
  nodePorts: 'KUBE-NODEPORTS',
  externalServices: 'KUBE-EXTERNAL-SERVICES',
  postrouting: 'KUBE-POSTROUTING',
  markMasq: 'KUBE-MARK-MASQ',
  forward: 'KUBE-FORWARD',
} as const;

/** What one UDP service port needs for conntrack cleanup when its endpoints go away. */
export interface UdpConntrackInfo {
  clusterIP: string;
  externalIPs: readonly string[];
  nodePort: number;
  /** Endpoint IPs the rules DNAT to. */
  endpointIPs: readonly string[];
}

/**
 * Everything one service port contributes to the ruleset. Fragments of
 * unchanged services are reused by reference from the last applied plan,
 * which keeps partial syncs cheap at 10,000 services.
 */
export interface ServiceFragment {
  id: string;
  /** Lines for the shared chains, in their table. */
  natServices: readonly string[];
  natNodePorts: readonly string[];
  filterServices: readonly string[];
  filterExternal: readonly string[];
  /** The service's own nat chains (SVC, SVL, EXT, SEP) and their lines. */
  chains: ReadonlyMap<string, readonly string[]>;
  udp: UdpConntrackInfo | undefined;
  /** Local-policy service with endpoints elsewhere only. */
  noLocalEndpoints: boolean;
}

/**
 * Template literals build strings as trees of parts (V8 cons strings), ~4x
 * the size of the text; the last plan is kept, so at 10,000 services that is
 * ~100 MiB. Joining flattens the text once; split lines then share it.
 */
function compact(lines: string[]): string[] {
  return lines.length === 0 ? lines : lines.join('\n').split('\n');
}

function usable(eps: readonly EndpointInfo[]): EndpointInfo[] {
  // kube-proxy: ready endpoints; if none, fall back to serving-but-terminating ones.
  const ready = eps.filter((e) => e.ready);
  return ready.length > 0 ? ready : eps.filter((e) => e.serving && e.terminating);
}

/** Formats kube-proxy's statistic probability (1/(n-i), 10 decimals). */
export function probability(n: number): string {
  return (1 / n).toFixed(10);
}

/** Renders one validated service port with its endpoints into a fragment. */
export function renderServiceFragment(params: {
  svc: ServicePortInfo;
  endpoints: readonly EndpointInfo[];
  config: NodeConfig;
}): ServiceFragment {
  const { svc, config } = params;
  const names = serviceChainNames(svc);
  const proto = svc.protocol.toLowerCase();
  const protoMatch = `-m ${proto} -p ${proto}`;
  const all = usable(params.endpoints);
  const local = usable(params.endpoints.filter((e) => e.isLocal));
  const clusterEps = svc.internalPolicyLocal ? local : all;
  const externalEps = svc.externalPolicyLocal ? local : clusterEps;
  const hasExternal = svc.nodePort > 0 || svc.externalIPs.length > 0;
  const c = (text: string) => `-m comment --comment ${quoteComment(text)}`;

  const natServices: string[] = [];
  const natNodePorts: string[] = [];
  const filterServices: string[] = [];
  const filterExternal: string[] = [];
  const chains = new Map<string, string[]>();
  const seps = new Map<EndpointInfo, string>();
  const sepOf = (e: EndpointInfo) => {
    let n = seps.get(e);
    if (n === undefined) seps.set(e, (n = endpointChainNameOf(names.portName, svc.protocol, e)));
    return n;
  };
  const affinity = svc.sessionAffinity.kind === 'ClientIP' ? svc.sessionAffinity.timeoutSeconds : 0;

  // Service → endpoint rules: affinity hits first, then an even random spread.
  const endpointRules = (chain: string, eps: EndpointInfo[]): string[] => {
    const lines: string[] = [];
    if (affinity > 0) {
      for (const e of eps) {
        const sep = sepOf(e);
        lines.push(`-A ${chain} ${c(`${names.portName} -> ${e.ip}:${e.port}`)} -m recent --name ${sep} --rcheck --seconds ${affinity} --reap -j ${sep}`);
      }
    }
    eps.forEach((e, i) => {
      const stat = i < eps.length - 1 ? ` -m statistic --mode random --probability ${probability(eps.length - i)}` : '';
      lines.push(`-A ${chain} ${c(`${names.portName} -> ${e.ip}:${e.port}`)}${stat} -j ${sepOf(e)}`);
    });
    return lines;
  };

  const cipMatch = `${protoMatch} -d ${svc.clusterIP}/32 --dport ${svc.port}`;
  if (clusterEps.length > 0) {
    natServices.push(`-A ${Chain.services} ${c(`${names.portName} cluster IP`)} ${cipMatch} -j ${names.svc}`);
    const svcLines: string[] = [];
    if (config.masqueradeAll) {
      svcLines.push(`-A ${names.svc} ${c(`${names.portName} cluster IP`)} ${cipMatch} -j ${Chain.markMasq}`);
    } else if (config.clusterCIDR) {
      // Traffic to a ClusterIP from outside the pod network (e.g. the node itself) is masqueraded.
      svcLines.push(`-A ${names.svc} ${c(`${names.portName} cluster IP`)} ${cipMatch} ! -s ${config.clusterCIDR} -j ${Chain.markMasq}`);
    }
    svcLines.push(...endpointRules(names.svc, clusterEps));
    chains.set(names.svc, svcLines);
  } else {
    // No endpoints: refuse at once instead of letting the connection hang.
    filterServices.push(`-A ${Chain.services} ${c(`${names.portName} has no endpoints`)} ${cipMatch} -j REJECT`);
  }

  if (hasExternal) {
    if (externalEps.length > 0) {
      for (const ip of svc.externalIPs) {
        natServices.push(`-A ${Chain.services} ${c(`${names.portName} external IP`)} ${protoMatch} -d ${ip}/32 --dport ${svc.port} -j ${names.ext}`);
      }
      if (svc.nodePort > 0) natNodePorts.push(`-A ${Chain.nodePorts} ${c(names.portName)} ${protoMatch} --dport ${svc.nodePort} -j ${names.ext}`);
      const ext: string[] = [];
      if (!svc.externalPolicyLocal) {
        ext.push(`-A ${names.ext} ${c(`masquerade traffic for ${names.portName} external destinations`)} -j ${Chain.markMasq}`);
        ext.push(`-A ${names.ext} -j ${names.svc}`);
      } else {
        if (clusterEps.length > 0) {
          // Pods and the node itself may use any endpoint; only outside clients are kept local.
          if (config.clusterCIDR) {
            ext.push(`-A ${names.ext} -s ${config.clusterCIDR} ${c(`pod traffic for ${names.portName} external destinations`)} -j ${names.svc}`);
          }
          ext.push(`-A ${names.ext} ${c(`masquerade LOCAL traffic for ${names.portName} external destinations`)} -m addrtype --src-type LOCAL -j ${Chain.markMasq}`);
          ext.push(`-A ${names.ext} ${c(`route LOCAL traffic for ${names.portName} external destinations`)} -m addrtype --src-type LOCAL -j ${names.svc}`);
        }
        ext.push(`-A ${names.ext} -j ${names.svl}`);
        chains.set(names.svl, endpointRules(names.svl, local));
      }
      chains.set(names.ext, ext);
    } else {
      const [comment, verdict] =
        svc.externalPolicyLocal && clusterEps.length > 0 ? [`${names.portName} has no local endpoints`, 'DROP'] : [`${names.portName} has no endpoints`, 'REJECT'];
      for (const ip of svc.externalIPs) {
        filterExternal.push(`-A ${Chain.externalServices} ${c(comment)} ${protoMatch} -d ${ip}/32 --dport ${svc.port} -j ${verdict}`);
      }
      if (svc.nodePort > 0) {
        filterExternal.push(`-A ${Chain.externalServices} ${c(comment)} -m addrtype --dst-type LOCAL ${protoMatch} --dport ${svc.nodePort} -j ${verdict}`);
      }
    }
  }

  // Endpoint chains: hairpin masquerade, affinity record, DNAT.
  const used = new Map<string, EndpointInfo>();
  for (const e of [...clusterEps, ...(svc.externalPolicyLocal ? local : [])]) used.set(sepOf(e), e);
  for (const [sep, e] of used) {
    const set = affinity > 0 ? ` -m recent --name ${sep} --set` : '';
    chains.set(sep, [
      `-A ${sep} ${c(names.portName)} -s ${e.ip}/32 -j ${Chain.markMasq}`,
      `-A ${sep} ${c(names.portName)}${set} ${protoMatch} -j DNAT --to-destination ${e.ip}:${e.port}`,
    ]);
  }

  return {
    id: svc.id,
    natServices: compact(natServices),
    natNodePorts: compact(natNodePorts),
    filterServices: compact(filterServices),
    filterExternal: compact(filterExternal),
    chains: new Map([...chains].map(([k, v]) => [k, compact(v)])),
    udp:
      svc.protocol === 'UDP'
        ? { clusterIP: svc.clusterIP, externalIPs: svc.externalIPs, nodePort: svc.nodePort, endpointIPs: [...new Set([...used.values()].map((e) => e.ip))] }
        : undefined,
    noLocalEndpoints: svc.externalPolicyLocal && local.length === 0 && all.length > 0,
  };
}
