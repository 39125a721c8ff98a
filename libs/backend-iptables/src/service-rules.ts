import { isIPv4 } from 'node:net';
import { categorizeEndpoints } from '@svcnet/proxy-core';
import type { EndpointInfo, NodeConfig, ServicePortInfo } from '@svcnet/proxy-core';
import { endpointChainNameOf, quoteComment, serviceChainNames } from './names.js';
import { ipInCidr as inCidr } from '@svcnet/ipam';

/** kube-proxy's chains that are always present. */
export const Chain = {
  services: 'KUBE-SERVICES',
  nodePorts: 'KUBE-NODEPORTS',
  externalServices: 'KUBE-EXTERNAL-SERVICES',
  /** filter: drops what a service's loadBalancerSourceRanges did not let through (KUBE-FW-*). */
  proxyFirewall: 'KUBE-PROXY-FIREWALL',
  /** filter: kube-proxy's protective DROP of martian 127.0.0.0/8 traffic (localhost node ports). */
  firewall: 'KUBE-FIREWALL',
  postrouting: 'KUBE-POSTROUTING',
  markMasq: 'KUBE-MARK-MASQ',
  forward: 'KUBE-FORWARD',
} as const;

/** What one UDP service port needs for conntrack cleanup when its endpoints go away. */
export interface UdpConntrackInfo {
  clusterIP: string;
  /** External and load-balancer IPs. */
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
  /** filter KUBE-NODEPORTS: ACCEPT of the health check node port. */
  filterNodePorts: readonly string[];
  /** filter KUBE-PROXY-FIREWALL: DROP of load-balancer traffic the FW chain did not DNAT. */
  filterFirewall: readonly string[];
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

/** Formats kube-proxy's statistic probability (1/(n-i), 10 decimals). */
export function probability(n: number): string {
  return (1 / n).toFixed(10);
}

/**
 * Renders one validated service port with its endpoints into a fragment, as
 * kube-proxy's iptables proxier writes it: KUBE-SVC-* holds the Cluster
 * policy's endpoints, KUBE-SVL-* the Local policy's; ClusterIP traffic goes to
 * the internal policy's chain, and every external destination (node port,
 * external IP, load-balancer IP) to KUBE-EXT-*, which masquerades (eTP
 * Cluster) or short-circuits pods and the node itself to KUBE-SVC-* before
 * keeping outside clients on this node (eTP Local). What no chain takes is
 * refused in filter: REJECT without any endpoint, DROP without one for the
 * policy.
 */
export function renderServiceFragment(params: {
  svc: ServicePortInfo;
  endpoints: readonly EndpointInfo[];
  config: NodeConfig;
}): ServiceFragment {
  const { svc, config } = params;
  const names = serviceChainNames(svc);
  const proto = svc.protocol.toLowerCase();
  const protoMatch = `-m ${proto} -p ${proto}`;
  const cat = categorizeEndpoints(svc, params.endpoints);
  const clusterEps = cat.cluster;
  const localEps = cat.local;
  const hasEndpoints = cat.hasAny;
  const hasInternal = hasEndpoints && cat.internal.length > 0;
  const hasExternalEps = hasEndpoints && cat.external.length > 0;
  const internalChain = svc.internalPolicyLocal ? names.svl : names.svc;
  const externalPolicyChain = svc.externalPolicyLocal ? names.svl : names.svc;
  const lbIPs = svc.loadBalancerIPs;
  const externallyAccessible = svc.nodePort > 0 || svc.externalIPs.length > 0 || lbIPs.length > 0;
  const usesExt = hasEndpoints && externallyAccessible;
  const usesFw = hasEndpoints && lbIPs.length > 0 && svc.loadBalancerSourceRanges.length > 0;
  const c = (text: string) => `-m comment --comment ${quoteComment(text)}`;
  // kube-proxy: REJECT when the service has no endpoint at all, DROP when only the policy has none.
  const noEndpoints = { comment: `${names.portName} has no endpoints`, verdict: 'REJECT' };
  const noLocal = { comment: `${names.portName} has no local endpoints`, verdict: 'DROP' };
  const internalFilter = !hasEndpoints ? noEndpoints : noLocal;
  const externalFilter = !hasEndpoints ? noEndpoints : noLocal;

  const natServices: string[] = [];
  const natNodePorts: string[] = [];
  const filterServices: string[] = [];
  const filterExternal: string[] = [];
  const filterNodePorts: string[] = [];
  const filterFirewall: string[] = [];
  const chains = new Map<string, string[]>();
  const seps = new Map<EndpointInfo, string>();
  const sepOf = (e: EndpointInfo) => {
    let n = seps.get(e);
    if (n === undefined) seps.set(e, (n = endpointChainNameOf(names.portName, svc.protocol, e)));
    return n;
  };
  const affinity = svc.sessionAffinity.kind === 'ClientIP' ? svc.sessionAffinity.timeoutSeconds : 0;

  // Service → endpoint rules: affinity hits first, then an even random spread.
  const endpointRules = (chain: string, eps: readonly EndpointInfo[]): string[] => {
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

  // ClusterIP.
  const cipMatch = `${protoMatch} -d ${svc.clusterIP}/32 --dport ${svc.port}`;
  if (hasInternal) {
    natServices.push(`-A ${Chain.services} ${c(`${names.portName} cluster IP`)} ${cipMatch} -j ${internalChain}`);
  } else {
    filterServices.push(`-A ${Chain.services} ${c(internalFilter.comment)} ${cipMatch} -j ${internalFilter.verdict}`);
  }

  // External IPs, load-balancer IPs, node ports: all through KUBE-EXT-*.
  for (const ip of svc.externalIPs) {
    const match = `${protoMatch} -d ${ip}/32 --dport ${svc.port}`;
    if (hasEndpoints) natServices.push(`-A ${Chain.services} ${c(`${names.portName} external IP`)} ${match} -j ${names.ext}`);
    if (!hasExternalEps) filterExternal.push(`-A ${Chain.externalServices} ${c(externalFilter.comment)} ${match} -j ${externalFilter.verdict}`);
  }
  for (const ip of lbIPs) {
    const match = `${protoMatch} -d ${ip}/32 --dport ${svc.port}`;
    if (hasEndpoints) natServices.push(`-A ${Chain.services} ${c(`${names.portName} loadbalancer IP`)} ${match} -j ${usesFw ? names.fw : names.ext}`);
    if (usesFw) filterFirewall.push(`-A ${Chain.proxyFirewall} ${c(`${names.portName} traffic not accepted by ${names.fw}`)} ${match} -j DROP`);
    if (!hasExternalEps) filterExternal.push(`-A ${Chain.externalServices} ${c(externalFilter.comment)} ${match} -j ${externalFilter.verdict}`);
  }
  if (svc.nodePort > 0) {
    // As kube-proxy: node ports are not subject to loadBalancerSourceRanges.
    if (hasEndpoints) natNodePorts.push(`-A ${Chain.nodePorts} ${c(names.portName)} ${protoMatch} --dport ${svc.nodePort} -j ${names.ext}`);
    if (!hasExternalEps) {
      filterExternal.push(
        `-A ${Chain.externalServices} ${c(externalFilter.comment)} -m addrtype --dst-type LOCAL ${protoMatch} --dport ${svc.nodePort} -j ${externalFilter.verdict}`,
      );
    }
  }
  if (svc.healthCheckNodePort > 0) {
    // Whether or not this node has local endpoints: the health check must answer either way.
    filterNodePorts.push(`-A ${Chain.nodePorts} ${c(`${names.portName} health check node port`)} -m tcp -p tcp --dport ${svc.healthCheckNodePort} -j ACCEPT`);
  }

  // Internal traffic: masquerade what comes from outside the pod network (or everything).
  if (hasInternal) {
    const masq = config.masqueradeAll
      ? `-A ${internalChain} ${c(`${names.portName} cluster IP`)} ${cipMatch} -j ${Chain.markMasq}`
      : config.clusterCIDR
        ? `-A ${internalChain} ${c(`${names.portName} cluster IP`)} ${cipMatch} ! -s ${config.clusterCIDR} -j ${Chain.markMasq}`
        : undefined;
    if (masq) chains.set(internalChain, [masq]);
  }

  if (usesExt) {
    const ext: string[] = [];
    if (!svc.externalPolicyLocal) {
      // Endpoints may be on other nodes: masquerade so that replies come back through this one.
      ext.push(`-A ${names.ext} ${c(`masquerade traffic for ${names.portName} external destinations`)} -j ${Chain.markMasq}`);
    } else {
      // Pods and the node itself are not subject to the external policy: they may use any endpoint.
      if (config.clusterCIDR) {
        ext.push(`-A ${names.ext} -s ${config.clusterCIDR} ${c(`pod traffic for ${names.portName} external destinations`)} -j ${names.svc}`);
      }
      ext.push(`-A ${names.ext} ${c(`masquerade LOCAL traffic for ${names.portName} external destinations`)} -m addrtype --src-type LOCAL -j ${Chain.markMasq}`);
      ext.push(`-A ${names.ext} ${c(`route LOCAL traffic for ${names.portName} external destinations`)} -m addrtype --src-type LOCAL -j ${names.svc}`);
    }
    if (hasExternalEps) ext.push(`-A ${names.ext} -j ${externalPolicyChain}`);
    chains.set(names.ext, ext);
  }

  if (usesFw) {
    const fw: string[] = [];
    const head = `-A ${names.fw} ${c(`${names.portName} loadbalancer IP`)}`;
    for (const cidr of svc.loadBalancerSourceRanges) fw.push(`${head} -s ${cidr} -j ${names.ext}`);
    // The node reaching its own load-balancer IP (bound locally) comes from that IP.
    const allowFromNode = svc.loadBalancerSourceRanges.some((cidr) => config.nodeIPs.some((ip) => isIPv4(ip) && inCidr(ip, cidr)));
    if (allowFromNode) for (const ip of lbIPs) fw.push(`${head} -s ${ip}/32 -j ${names.ext}`);
    fw.push(`-A ${names.fw} ${c(`other traffic to ${names.portName} will be dropped by ${Chain.proxyFirewall}`)}`);
    chains.set(names.fw, fw);
  }

  // Policy chains: SVC when something uses the Cluster policy's endpoints, SVL for the Local policy's.
  const usesCluster = clusterEps.length > 0 && (!svc.internalPolicyLocal || externallyAccessible);
  const usesLocal = localEps.length > 0 && (svc.internalPolicyLocal || svc.externalPolicyLocal);
  if (usesCluster) chains.set(names.svc, [...(chains.get(names.svc) ?? []), ...endpointRules(names.svc, clusterEps)]);
  if (usesLocal) chains.set(names.svl, [...(chains.get(names.svl) ?? []), ...endpointRules(names.svl, localEps)]);

  // Endpoint chains: hairpin masquerade, affinity record, DNAT.
  const used = new Map<string, EndpointInfo>();
  for (const e of [...(usesCluster ? clusterEps : []), ...(usesLocal ? localEps : [])]) used.set(sepOf(e), e);
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
    filterNodePorts: compact(filterNodePorts),
    filterFirewall: compact(filterFirewall),
    chains: new Map([...chains].map(([k, v]) => [k, compact(v)])),
    udp:
      svc.protocol === 'UDP'
        ? {
            clusterIP: svc.clusterIP,
            externalIPs: [...svc.externalIPs, ...lbIPs],
            nodePort: svc.nodePort,
            endpointIPs: [...new Set([...used.values()].map((e) => e.ip))],
          }
        : undefined,
    noLocalEndpoints: svc.externalPolicyLocal && localEps.length === 0 && hasEndpoints,
  };
}
