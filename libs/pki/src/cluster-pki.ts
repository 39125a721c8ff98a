import { join } from 'node:path';
import { createCa, issueCertificate, type KeyPairFiles } from './openssl.js';

/** Every certificate a svcnet installation needs, as kubeadm's `init phase certs all` makes a cluster's. */
export interface ClusterPki {
  ca: KeyPairFiles;
  /** svcnet-state's serving certificate. */
  state: KeyPairFiles;
  /** svcnet-allocator's serving certificate. */
  allocator: KeyPairFiles;
  /** The state service's client certificate towards the allocator (svcnet:editors). */
  stateToAllocator: KeyPairFiles;
  /** nats-server's serving certificate. */
  nats: KeyPairFiles;
  /** An operator who may change things (svcnet:editors). */
  admin: KeyPairFiles;
  /** An operator who may only look (svcnet:viewers). */
  viewer: KeyPairFiles;
}

/** Parameters of {@link createClusterPki}. */
export interface ClusterPkiParams {
  dir: string;
  /** Addresses and names the servers are reached at (127.0.0.1 and localhost are always added). */
  serverHosts: readonly string[];
  days?: number;
}

/** Creates the CA and every certificate of {@link ClusterPki} in `dir` (keys 0600). */
export async function createClusterPki(p: ClusterPkiParams): Promise<ClusterPki> {
  const days = p.days ?? 365;
  const ca = await createCa({ dir: p.dir, commonName: 'svcnet-ca' });
  const hosts = [...new Set([...p.serverHosts, '127.0.0.1', 'localhost'])];
  const issue = (name: string, commonName: string, usage: 'server' | 'client', organizations: string[] = []) =>
    issueCertificate({ ca, dir: p.dir, name, commonName, organizations, usage, days, ...(usage === 'server' ? { hosts } : {}) });
  return {
    ca,
    state: await issue('state', 'svcnet-state', 'server'),
    allocator: await issue('allocator', 'svcnet-allocator', 'server'),
    stateToAllocator: await issue('state-allocator-client', 'svcnet-state', 'client', ['svcnet:editors']),
    nats: await issue('nats', 'svcnet-nats', 'server'),
    admin: await issue('admin', 'admin', 'client', ['svcnet:editors']),
    viewer: await issue('viewer', 'viewer', 'client', ['svcnet:viewers']),
  };
}

/** Where {@link createClusterPki} put a file (for callers that only know the directory). */
export function pkiPath(dir: string, name: string, ext: 'crt' | 'key'): string {
  return join(dir, `${name}.${ext}`);
}
