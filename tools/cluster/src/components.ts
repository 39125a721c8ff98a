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

export function natsArgv(storeDir: string): string[] {
  return ['nats-server', '-js', '-a', '0.0.0.0', '-p', String(ControlPlanePorts.nats), '-sd', storeDir];
}

export function allocatorArgv(bundle: string, extra: readonly string[] = []): string[] {
  return [
    process.execPath,
    bundle,
    '--listen',
    `0.0.0.0:${ControlPlanePorts.allocator}`,
    '--nats-url',
    `nats://127.0.0.1:${ControlPlanePorts.nats}`,
    '--service-cluster-ip-range',
    SERVICE_CLUSTER_IP_RANGE,
    '--service-node-port-range',
    SERVICE_NODE_PORT_RANGE,
    '--pod-network-cidr',
    POD_NETWORK_CIDR,
    ...extra,
  ];
}

export function stateArgv(bundle: string, extra: readonly string[] = []): string[] {
  return [
    process.execPath,
    bundle,
    '--listen',
    `0.0.0.0:${ControlPlanePorts.state}`,
    '--nats-url',
    `nats://127.0.0.1:${ControlPlanePorts.nats}`,
    '--allocator-url',
    `127.0.0.1:${ControlPlanePorts.allocator}`,
    '--pod-network-cidr',
    POD_NETWORK_CIDR,
    ...extra,
  ];
}

/** svcnet-dns in the control-plane namespace: NATS next door, answers on every address of the namespace. */
export function dnsArgv(bundle: string, extra: readonly string[] = []): string[] {
  return [
    process.execPath,
    // As bin/svcnet-dns.cjs runs it: a small young generation keeps the resident size down.
    '--max-semi-space-size=2',
    bundle,
    '--listen',
    `0.0.0.0:${DNS_PORT}`,
    '--nats-url',
    `nats://127.0.0.1:${ControlPlanePorts.nats}`,
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
  proxyMode: ProxyModeName;
  iptables: IptablesVariant;
  extra?: readonly string[];
}

/** svcnet-agent's kube-proxy flags for one node; NATS is reached over the wire. */
export function agentArgv(p: AgentArgvParams): string[] {
  return [
    process.execPath,
    p.bundle,
    '--nats-url',
    `nats://${p.plan.controlPlane.ip}:${ControlPlanePorts.nats}`,
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

/** The svcnetctl command line run inside the control-plane namespace. */
export function svcnetctlArgv(bundle: string, args: readonly string[]): string[] {
  return [process.execPath, bundle, '--server', `127.0.0.1:${ControlPlanePorts.state}`, ...args];
}
