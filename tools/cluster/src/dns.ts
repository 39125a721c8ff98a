import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { status, type ServiceError } from '@grpc/grpc-js';
import { endpointsToProto, serviceToProto, type statev1 } from '@svcnet/api';
import type { Endpoints, Service } from '@svcnet/model';
import { callWithRetry } from './state-client.js';

/**
 * The cluster's DNS, as kubeadm sets it up: svcnet-dns runs in the
 * control-plane namespace (next to NATS, like a control-plane component)
 * and is reached through the selector-less service kube-system/kube-dns,
 * whose fixed ClusterIP is the 10th address of the service range and whose
 * Endpoints point at the control plane's wire address. Every pod gets
 * kubelet's resolver settings in /etc/netns/<pod namespace>/resolv.conf,
 * which `ip netns exec` mounts over /etc/resolv.conf.
 */
export const CLUSTER_DOMAIN = 'cluster.local';
export const DNS_PORT = 53;
export const DNS_METRICS_PORT = 9153;
export const KUBE_DNS = { namespace: 'kube-system', name: 'kube-dns' } as const;

/** Where `ip netns exec` looks for a namespace's own /etc files. */
export const NETNS_ETC = '/etc/netns';

/** The 10th address of an IPv4 range (`10.96.0.0/16` → `10.96.0.10`), as Kubernetes picks kube-dns's. */
export function tenthAddress(cidr: string): string {
  const [ip = '', bits = '32'] = cidr.split('/');
  const octets = ip.split('.').map(Number);
  if (octets.length !== 4 || octets.some((o) => !Number.isInteger(o) || o < 0 || o > 255)) throw new RangeError(`not an IPv4 CIDR: ${cidr}`);
  const prefix = Number(bits);
  const base = octets.reduce((acc, o) => (acc << 8) | o, 0) >>> 0;
  const network = prefix === 0 ? 0 : (base & (~0 << (32 - prefix))) >>> 0;
  const n = (network + 10) >>> 0;
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** The first line of every resolv.conf the cluster writes: `down` removes only files carrying it. */
function marker(cluster: string): string {
  return `# svcnet-cluster ${cluster}: kubelet's resolver settings for this pod`;
}

/** kubelet's resolv.conf for a pod in `namespace` (ClusterFirst DNS policy). */
export function resolvConf(p: { cluster: string; namespace: string; nameserver: string; domain?: string }): string {
  const domain = p.domain ?? CLUSTER_DOMAIN;
  return [
    marker(p.cluster),
    `nameserver ${p.nameserver}`,
    `search ${p.namespace}.svc.${domain} svc.${domain} ${domain}`,
    'options ndots:5',
    '',
  ].join('\n');
}

/** Writes a pod namespace's resolv.conf (creating /etc/netns/<ns>). */
export function writePodResolvConf(p: { cluster: string; ns: string; namespace: string; nameserver: string }): string {
  const dir = join(NETNS_ETC, p.ns);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'resolv.conf');
  writeFileSync(path, resolvConf(p));
  return path;
}

/** Removes a namespace's resolv.conf if the cluster wrote it, and the directory when left empty. */
export function removePodResolvConf(cluster: string, ns: string): void {
  const dir = join(NETNS_ETC, ns);
  const path = join(dir, 'resolv.conf');
  try {
    if (existsSync(path) && readFileSync(path, 'utf8').startsWith(marker(cluster))) rmSync(path, { force: true });
    if (existsSync(dir) && readdirSync(dir).length === 0) rmdirSync(dir);
  } catch {
    // Gone meanwhile, or not ours to remove: nothing else to do.
  }
}

/** Removes every resolv.conf this cluster wrote, state file or not (`down` after a crash). */
export function removeAllResolvConfs(cluster: string): void {
  if (!existsSync(NETNS_ETC)) return;
  for (const ns of readdirSync(NETNS_ETC)) if (ns.startsWith(`${cluster}-`)) removePodResolvConf(cluster, ns);
  try {
    if (readdirSync(NETNS_ETC).length === 0) rmdirSync(NETNS_ETC);
  } catch {
    // Someone else's files are there: leave the directory.
  }
}

function meta(namespace: string, name: string) {
  return { namespace, name, uid: '', labels: { 'k8s-app': 'kube-dns' }, annotations: {}, resourceVersion: 0 };
}

/** The kube-dns service: selector-less, fixed ClusterIP, 53/UDP and 53/TCP (kube-dns's port names). */
export function kubeDnsService(clusterIP: string): Service {
  return {
    metadata: meta(KUBE_DNS.namespace, KUBE_DNS.name),
    spec: {
      type: 'ClusterIP',
      clusterIP,
      clusterIPs: [clusterIP],
      ipFamilies: ['IPv4'],
      ports: [
        { name: 'dns', protocol: 'UDP', port: DNS_PORT, targetPort: DNS_PORT, nodePort: 0 },
        { name: 'dns-tcp', protocol: 'TCP', port: DNS_PORT, targetPort: DNS_PORT, nodePort: 0 },
      ],
      selector: {},
      sessionAffinity: 'None',
      sessionAffinityTimeoutSeconds: 0,
      externalTrafficPolicy: 'Cluster',
      internalTrafficPolicy: 'Cluster',
      externalIPs: [],
    },
  };
}

/** Its Endpoints: the DNS server's address. */
export function kubeDnsEndpoints(serverIp: string): Endpoints {
  return {
    metadata: meta(KUBE_DNS.namespace, KUBE_DNS.name),
    subsets: [
      {
        addresses: [{ ip: serverIp, nodeName: '', ready: true, serving: true, terminating: false }],
        ports: [
          { name: 'dns', port: DNS_PORT, protocol: 'UDP' },
          { name: 'dns-tcp', port: DNS_PORT, protocol: 'TCP' },
        ],
      },
    ],
  };
}

function alreadyExists(err: unknown): boolean {
  return (err as Partial<ServiceError>).code === status.ALREADY_EXISTS;
}

/** Creates kube-system/kube-dns and its Endpoints through the State API (existing ones are kept). */
export async function createKubeDns(client: statev1.StateClient, p: { clusterIP: string; serverIp: string }): Promise<void> {
  try {
    await callWithRetry(client.createService.bind(client), { service: serviceToProto(kubeDnsService(p.clusterIP)) });
  } catch (err) {
    if (!alreadyExists(err)) throw err;
  }
  try {
    await callWithRetry(client.createEndpoints.bind(client), { endpoints: endpointsToProto(kubeDnsEndpoints(p.serverIp)) });
  } catch (err) {
    if (!alreadyExists(err)) throw err;
  }
}
