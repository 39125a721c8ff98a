import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CLUSTER_DOMAIN, DNS_METRICS_PORT, DNS_PORT } from './dns.js';
import type { IptablesVariant, ProxyModeName } from './state-file.js';
import {
  AgentPorts,
  ControlPlanePorts,
  POD_NETWORK_CIDR,
  SERVICE_CLUSTER_IP_RANGE,
  SERVICE_NODE_PORT_RANGE,
  type ClusterPlan,
  type NodePlan,
} from './topology.js';

/** The svcnet apps the cluster runs, by bundle path relative to the repo root. */
export const AppBundle = {
  allocator: 'apps/allocator/dist/main.cjs',
  state: 'apps/state/dist/main.cjs',
  agent: 'apps/node-agent/dist/main.cjs',
  svcnetctl: 'apps/svcnetctl/dist/main.cjs',
  dns: 'apps/dns/dist/main.cjs',
} as const;
export type AppName = keyof typeof AppBundle;

/** Absolute bundle path, or undefined when it has not been built (`npx nx run-many -t build`). */
export function bundlePath(repoRoot: string, app: AppName): string | undefined {
  const path = join(repoRoot, AppBundle[app]);
  return existsSync(path) ? path : undefined;
}

/** Extra flags per component, appended after the cluster's own. */
export interface ExtraArgs {
  allocator?: string[];
  state?: string[];
  agent?: string[];
  dns?: string[];
}

/** How the programs reach NATS: every server, and each program's own credentials. */
export interface NatsAccess {
  /** Comma-separated URLs of every server. */
  url: string;
  /** `--nats-creds` per program (absent when auth is off). */
  creds?: string;
  /** `--nats-ca`: TLS to NATS (absent when TLS is off). */
  ca?: string;
}

function natsFlags(access: NatsAccess): string[] {
  return ['--nats-url', access.url, ...(access.creds ? ['--nats-creds', access.creds] : []), ...(access.ca ? ['--nats-ca', access.ca] : [])];
}

/** The files of one TLS identity: a certificate, its key, and the CA that checks peers. */
export interface TlsFiles {
  caFile: string;
  certFile: string;
  keyFile: string;
}

/** kube-apiserver's serving flags for mutual TLS, or `--plaintext` (only when TLS is off). */
function servingFlags(tls: TlsFiles | undefined): string[] {
  return tls ? ['--tls-cert-file', tls.certFile, '--tls-private-key-file', tls.keyFile, '--client-ca-file', tls.caFile] : ['--plaintext'];
}

/** Parameters of {@link natsArgv}. */
export interface NatsArgvParams {
  storeDir: string;
  index: number;
  /** Servers in the JetStream cluster (1 = a single server, no routes). */
  size: number;
  clusterName: string;
  /** The auth configuration file, when credentials are on. */
  configFile?: string;
}

/** One nats-server of the control plane; with size > 1 the servers route to each other on loopback. */
export function natsArgv(p: NatsArgvParams): string[] {
  const argv = ['nats-server', '-js', '-a', '0.0.0.0', '-p', String(ControlPlanePorts.nats + p.index), '-sd', p.storeDir, '-n', `${p.clusterName}-nats-${p.index}`];
  // Monitoring (/jsz, /varz) on loopback inside the control-plane namespace only.
  argv.push('-m', String(ControlPlanePorts.natsMonitor + p.index));
  if (p.size > 1) {
    const routes = Array.from({ length: p.size }, (_, i) => `nats-route://127.0.0.1:${ControlPlanePorts.natsRoute + i}`).join(',');
    argv.push('--cluster_name', `${p.clusterName}-nats`, '--cluster', `nats://127.0.0.1:${ControlPlanePorts.natsRoute + p.index}`, '--routes', routes);
  }
  if (p.configFile) argv.push('-c', p.configFile);
  return argv;
}

/** Parameters of {@link allocatorArgv} and {@link stateArgv}. */
export interface ControlPlaneArgvParams {
  bundle: string;
  nats: NatsAccess;
  kvReplicas: number;
  /** Serving TLS; undefined = plaintext. */
  tls?: TlsFiles;
  extra?: readonly string[];
}

export function allocatorArgv(p: ControlPlaneArgvParams): string[] {
  return [
    process.execPath,
    p.bundle,
    '--listen',
    `0.0.0.0:${ControlPlanePorts.allocator}`,
    ...servingFlags(p.tls),
    ...natsFlags(p.nats),
    '--kv-replicas',
    String(p.kvReplicas),
    '--service-cluster-ip-range',
    SERVICE_CLUSTER_IP_RANGE,
    '--service-node-port-range',
    SERVICE_NODE_PORT_RANGE,
    '--pod-network-cidr',
    POD_NETWORK_CIDR,
    ...(p.extra ?? []),
  ];
}

/** The gRPC port of state replica `i` (0, 1, …). */
export function statePort(replica: number): number {
  return ControlPlanePorts.state + 10 * replica;
}

export function stateArgv(p: ControlPlaneArgvParams & { replica?: number; allocatorClient?: TlsFiles }): string[] {
  const replica = p.replica ?? 0;
  const toAllocator = p.allocatorClient
    ? ['--allocator-ca-file', p.allocatorClient.caFile, '--allocator-client-cert-file', p.allocatorClient.certFile, '--allocator-client-key-file', p.allocatorClient.keyFile]
    : ['--allocator-plaintext'];
  return [
    process.execPath,
    p.bundle,
    '--listen',
    `0.0.0.0:${statePort(replica)}`,
    ...servingFlags(p.tls),
    ...toAllocator,
    ...natsFlags(p.nats),
    '--kv-replicas',
    String(p.kvReplicas),
    '--allocator-url',
    `127.0.0.1:${ControlPlanePorts.allocator}`,
    '--pod-network-cidr',
    POD_NETWORK_CIDR,
    '--metrics-bind-address',
    `127.0.0.1:${9412 + 10 * replica}`,
    ...(p.extra ?? []),
  ];
}

/** svcnet-dns in the control-plane namespace: NATS next door, answers on every address of the namespace. */
export function dnsArgv(bundle: string, nats: NatsAccess, extra: readonly string[] = []): string[] {
  return [
    process.execPath,
    // As bin/svcnet-dns.cjs runs it: a small young generation keeps the resident size down.
    '--max-semi-space-size=2',
    bundle,
    '--listen',
    `0.0.0.0:${DNS_PORT}`,
    ...natsFlags(nats),
    '--cluster-domain',
    CLUSTER_DOMAIN,
    '--metrics-bind-address',
    `0.0.0.0:${DNS_METRICS_PORT}`,
    ...extra,
  ];
}

/** Parameters of {@link agentArgv}. */
export interface AgentArgvParams {
  bundle: string;
  plan: ClusterPlan;
  node: NodePlan;
  /** URLs as reached over the wire, and this node's credentials. */
  nats: NatsAccess;
  proxyMode: ProxyModeName;
  iptables: IptablesVariant;
  extra?: readonly string[];
}

/** svcnet-agent's kube-proxy flags for one node; NATS is reached over the wire. */
export function agentArgv(p: AgentArgvParams): string[] {
  return [
    process.execPath,
    p.bundle,
    ...natsFlags(p.nats),
    '--node-name',
    p.node.name,
    '--node-ip',
    p.node.ip,
    '--proxy-mode',
    p.proxyMode,
    '--iptables-backend',
    p.iptables,
    '--cluster-cidr',
    POD_NETWORK_CIDR,
    // The allocator's range: nftables mode drops traffic to addresses of it that no service has.
    '--service-cluster-ip-range',
    SERVICE_CLUSTER_IP_RANGE,
    '--healthz-bind-address',
    `0.0.0.0:${AgentPorts.healthz}`,
    '--metrics-bind-address',
    `127.0.0.1:${AgentPorts.metrics}`,
    ...(p.extra ?? []),
  ];
}

/** socat relaying a Unix socket (reachable from the root namespace's file system) to a TCP port in the namespace. */
export function socketBridgeArgv(socket: string, port: number): string[] {
  return ['socat', `UNIX-LISTEN:${socket},fork,unlink-early,mode=600`, `TCP:127.0.0.1:${port}`];
}

/**
 * The svcnetctl command line run inside the control-plane namespace: with the
 * cluster's svcnetctl config (TLS, the admin certificate), or plaintext.
 */
export function svcnetctlArgv(bundle: string, args: readonly string[], config?: string): string[] {
  const connection = config ? ['--svcnetconfig', config] : ['--server', `http://127.0.0.1:${ControlPlanePorts.state}`];
  return [process.execPath, bundle, ...connection, ...args];
}
