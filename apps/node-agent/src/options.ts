// What svcnet-agent was asked to do, apart from the flag parser so that the
// config-file reader (kube-proxy-config.ts) and the parser do not import each other.
import type { BindAddress } from '@svcnet/model';
import type { ProxyMode } from '@svcnet/proxy-core';
import type { NatsConnectSettings } from '@svcnet/service-runtime';

/** Which iptables binaries to drive: kube-proxy auto-detects, a flag may force one. */
export const IptablesVariantFlag = { auto: 'auto', legacy: 'legacy', nft: 'nft' } as const;
export type IptablesVariantFlag = (typeof IptablesVariantFlag)[keyof typeof IptablesVariantFlag];

/** Everything svcnet-agent was asked to do, validated. */
export interface AgentOptions {
  /** NATS servers, credentials and TLS (flags, else the NATS tools' environment variables). */
  nats: NatsConnectSettings;
  nodeName: string;
  nodeIPs: string[];
  proxyMode: ProxyMode;
  iptablesBackend: IptablesVariantFlag;
  clusterCIDR: string;
  masqueradeAll: boolean;
  nodePortAddresses: string[];
  /** kube-proxy's --iptables-localhost-nodeports (iptables mode; default true). */
  localhostNodePorts: boolean;
  /** The service CIDRs (`--service-cluster-ip-range`): nftables mode drops traffic to their unused addresses. */
  serviceCIDRs: string[];
  syncPeriodMs: number;
  minSyncPeriodMs: number;
  /** How often the node record is rewritten (the heartbeat; NotReady after three missed). */
  nodeStatusIntervalMs: number;
  healthzBindAddress: BindAddress | undefined;
  metricsBindAddress: BindAddress | undefined;
  cleanup: boolean;
  dumpRules: boolean;
  ipvsScheduler: string;
  /** kube-proxy's --ipvs-strict-arp (IPVS mode: arp_ignore=1, arp_announce=2). */
  ipvsStrictArp: boolean;
  /** `first-last` or `first+count` as kube-proxy's userspace mode took it; empty = any. */
  proxyPortRange: string;
  verbosity: number;
  /** --write-config-to: write the effective KubeProxyConfiguration there and exit. */
  writeConfigTo?: string;
}
