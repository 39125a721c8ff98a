import { isCidr } from '@svcnet/ipam';
import { hostname, networkInterfaces } from 'node:os';
import { isIP } from 'node:net';
import { Command, InvalidArgumentError, Option } from 'commander';
import { ProxyMode } from '@svcnet/proxy-core';
import { SvcnetError, ErrorCode, invalidField, parseBindAddress, parseDuration, validateNodeName, type BindAddress } from '@svcnet/model';
import { addNatsFlags, configFileArg, natsConnectSettings, type NatsFlagValues } from '@svcnet/service-runtime';
import { kubeProxyConfigArgv } from './kube-proxy-config.js';
import { IptablesVariantFlag, type AgentOptions } from './options.js';

export { parseBindAddress, type BindAddress };


export { IptablesVariantFlag } from './options.js';
export type { AgentOptions } from './options.js';

function splitList(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}


/** The addresses this host would use as a node IP when none is given (non-internal IPv4 first). */
export function detectNodeIPs(): string[] {
  const all = Object.values(networkInterfaces()).flatMap((list) => list ?? []);
  const external = all.filter((a) => !a.internal && !a.address.startsWith('fe80:'));
  return [...external.filter((a) => a.family === 'IPv4'), ...external.filter((a) => a.family === 'IPv6')].map(
    (a) => a.address,
  );
}

function durationOption(field: string) {
  return (value: string): number => {
    try {
      const ms = parseDuration(value, field);
      if (ms < 0) throw invalidField(field, value, 'must not be negative');
      return ms;
    } catch (err) {
      throw new InvalidArgumentError(err instanceof Error ? err.message : String(err));
    }
  };
}

/** The commander program with kube-proxy's flags (exported for --help and tests). */
export function buildCommand(env: NodeJS.ProcessEnv = process.env): Command {
  const cmd = new Command('svcnet-agent').description("svcnet's kube-proxy: watches services and endpoints, programs this node's data plane");
  return addNatsFlags(cmd, env)
    .option('--version', 'print the version, commit and build date, then exit')
    .option('--config <file>', 'a KubeProxyConfiguration (kubeproxy.config.k8s.io/v1alpha1) YAML file; flags override it')
    .option('--write-config-to <file>', 'write the effective configuration as a KubeProxyConfiguration and exit')
    .addOption(
      new Option('--node-name <name>', 'name of this node (endpoints with this nodeName are local; its key in the nodes bucket) [$SVCNET_NODE_NAME]').default(
        env.SVCNET_NODE_NAME || hostname().toLowerCase(),
        env.SVCNET_NODE_NAME ? undefined : 'the host name',
      ),
    )
    .addOption(new Option('--hostname-override <name>', "kube-proxy's name for --node-name").hideHelp())
    .addOption(
      new Option('--node-ip <ips>', "this node's IP addresses, comma separated [$SVCNET_NODE_IP]").default(
        env.SVCNET_NODE_IP ?? '',
        env.SVCNET_NODE_IP ? undefined : 'detected',
      ),
    )
    .addOption(
      new Option('--proxy-mode <mode>', 'which proxy mode to use').choices(Object.values(ProxyMode)).default('iptables'),
    )
    .addOption(
      new Option('--iptables-backend <variant>', 'iptables binaries to use (auto detects like kube-proxy)')
        .choices(Object.values(IptablesVariantFlag))
        .default('auto'),
    )
    .option('--cluster-cidr <cidr>', 'pod network; traffic from outside it to a ClusterIP is masqueraded', '')
    .option('--masquerade-all', 'SNAT all traffic sent via service cluster IPs', false)
    .addOption(new Option('--nodeport-addresses <cidrs>', 'CIDRs whose local addresses accept NodePorts').default('', 'all'))
    .addOption(
      new Option('--iptables-localhost-nodeports <bool>', 'iptables mode: NodePorts answer on 127.0.0.1 too (sets route_localnet in this node\'s namespace)')
        .choices(['true', 'false'])
        .default('true'),
    )
    .option(
      '--service-cluster-ip-range <cidrs>',
      "the service CIDRs (the allocator's --service-cluster-ip-range); nftables mode drops traffic to their unused addresses and rejects unused ports of cluster IPs",
      '',
    )
    .addOption(
      new Option('--sync-period <duration>', 'maximum interval between syncs; rules are checked for drift this often')
        .argParser(durationOption('sync-period'))
        .default(30_000, '30s'),
    )
    .addOption(
      new Option('--min-sync-period <duration>', 'minimum interval between syncs').argParser(durationOption('min-sync-period')).default(100, '100ms'),
    )
    .addOption(
      new Option('--node-status-interval <duration>', "how often the node's record in the nodes bucket is rewritten; three missed make it NotReady")
        .argParser(durationOption('node-status-interval'))
        .default(10_000, '10s'),
    )
    .option('--healthz-bind-address <addr>', 'ip:port for /healthz and /livez (empty disables)', '0.0.0.0:10256')
    .option('--metrics-bind-address <addr>', 'ip:port for /metrics and /debug (empty disables)', '127.0.0.1:10249')
    .option('--cleanup', "remove every rule any svcnet proxy mode created, then exit", false)
    .option('--dump-rules', 'print the plan rendered from the current state, then exit', false)
    .option('--ipvs-scheduler <name>', 'IPVS scheduler (rr, lc, sh, ...)', 'rr')
    .option('--ipvs-strict-arp', 'IPVS mode: arp_ignore=1 and arp_announce=2, so the node does not answer ARP for service IPs on kube-ipvs0', false)
    .option('--proxy-port-range <range>', 'host port range for the userspace proxy (first-last)', '')
    .option('-v, --v <level>', 'log verbosity (0 info, 1-3 debug, 4+ trace)', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be a non-negative integer');
      return n;
    }, 0)
    .allowExcessArguments(false);
}

interface RawFlags extends NatsFlagValues {
  nodeName: string;
  hostnameOverride?: string;
  nodeIp: string;
  proxyMode: ProxyMode;
  iptablesBackend: IptablesVariantFlag;
  clusterCidr: string;
  masqueradeAll: boolean;
  nodeportAddresses: string;
  iptablesLocalhostNodeports: 'true' | 'false';
  serviceClusterIpRange: string;
  syncPeriod: number;
  minSyncPeriod: number;
  nodeStatusInterval: number;
  healthzBindAddress: string;
  metricsBindAddress: string;
  cleanup: boolean;
  dumpRules: boolean;
  ipvsScheduler: string;
  ipvsStrictArp: boolean;
  proxyPortRange: string;
  v: number;
  writeConfigTo?: string;
}

/** Turns parsed flags into validated options; throws SvcnetError(INVALID_ARGUMENT, field). */
export function optionsFromFlags(raw: RawFlags, detect: () => string[] = detectNodeIPs): AgentOptions {
  const nodeIPs = raw.nodeIp ? splitList(raw.nodeIp) : detect();
  for (const ip of nodeIPs) if (isIP(ip) === 0) throw invalidField('node-ip', ip, 'not an IP address');
  if (raw.clusterCidr && !splitList(raw.clusterCidr).every((c) => isCidr(c))) {
    throw invalidField('cluster-cidr', raw.clusterCidr, 'expected a CIDR such as 10.244.0.0/16');
  }
  const nodePortAddresses = splitList(raw.nodeportAddresses);
  for (const c of nodePortAddresses) if (!isCidr(c)) throw invalidField('nodeport-addresses', c, 'not a CIDR');
  const serviceCIDRs = splitList(raw.serviceClusterIpRange ?? '');
  for (const c of serviceCIDRs) if (!isCidr(c)) throw invalidField('service-cluster-ip-range', c, 'not a CIDR');
  if (raw.syncPeriod <= 0) throw invalidField('sync-period', raw.syncPeriod, 'must be greater than 0');
  if (raw.minSyncPeriod > raw.syncPeriod) {
    throw invalidField('min-sync-period', raw.minSyncPeriod, 'must not exceed --sync-period');
  }
  if (raw.proxyPortRange && !/^\d+[-+]\d+$/.test(raw.proxyPortRange)) {
    throw invalidField('proxy-port-range', raw.proxyPortRange, 'expected first-last, e.g. 30000-30100');
  }
  if (raw.hostnameOverride !== undefined) raw = { ...raw, nodeName: raw.hostnameOverride };
  if (!raw.nodeName.trim()) throw invalidField('node-name', raw.nodeName, 'must not be empty');
  validateNodeName(raw.nodeName.trim());
  if (raw.nodeStatusInterval < 100) throw invalidField('node-status-interval', raw.nodeStatusInterval, 'must be at least 100ms');
  return {
    nats: natsConnectSettings(raw),
    nodeName: raw.nodeName.trim(),
    nodeIPs,
    proxyMode: raw.proxyMode,
    iptablesBackend: raw.iptablesBackend,
    clusterCIDR: raw.clusterCidr,
    masqueradeAll: raw.masqueradeAll,
    nodePortAddresses,
    localhostNodePorts: (raw.iptablesLocalhostNodeports ?? 'true') === 'true',
    serviceCIDRs,
    syncPeriodMs: raw.syncPeriod,
    minSyncPeriodMs: raw.minSyncPeriod,
    nodeStatusIntervalMs: raw.nodeStatusInterval,
    healthzBindAddress: parseBindAddress(raw.healthzBindAddress, 'healthz-bind-address'),
    metricsBindAddress: parseBindAddress(raw.metricsBindAddress, 'metrics-bind-address'),
    cleanup: raw.cleanup,
    dumpRules: raw.dumpRules,
    ipvsScheduler: raw.ipvsScheduler,
    ipvsStrictArp: raw.ipvsStrictArp,
    proxyPortRange: raw.proxyPortRange,
    verbosity: raw.v,
    ...(raw.writeConfigTo ? { writeConfigTo: raw.writeConfigTo } : {}),
  };
}

/**
 * Parses argv (without node and script) into options. Usage errors throw
 * SvcnetError(INVALID_ARGUMENT); `--help` throws with code `help` handled by main.
 */
export function parseAgentArgs(argv: readonly string[], detect?: () => string[], env: NodeJS.ProcessEnv = process.env): AgentOptions {
  const cmd = buildCommand(env).exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  const file = configFileArg(argv);
  let fromFile: string[] = [];
  try {
    // The file first, then the command line: flags override the file, as kube-proxy does.
    if (file) fromFile = kubeProxyConfigArgv(file);
  } catch (err) {
    throw new SvcnetError(ErrorCode.InvalidArgument, (err as Error).message, { cause: err });
  }
  try {
    cmd.parse([...fromFile, ...argv], { from: 'user' });
  } catch (err) {
    const code = (err as { code?: string }).code ?? '';
    if (code === 'commander.helpDisplayed' || code === 'commander.version') throw err;
    throw new SvcnetError(ErrorCode.InvalidArgument, err instanceof Error ? err.message : String(err), { cause: err });
  }
  return optionsFromFlags(cmd.opts<RawFlags>(), detect);
}
