import { relative } from 'node:path';
import { stringify } from 'yaml';

/** A client identity for a config file: certificate and key paths. */
export interface ConfigUser {
  name: string;
  certFile: string;
  keyFile: string;
}

/** Parameters of {@link clientConfigYaml}. */
export interface ClientConfigParams {
  /** host:port of every state replica (client-side failover). */
  servers: string[];
  caFile: string;
  /** The first user is the current context. */
  users: ConfigUser[];
  /** Paths are written relative to this directory (where the file goes), as kubectl resolves them. */
  dir: string;
}

/**
 * A svcnetctl config (kubeconfig's shape): one cluster with every state
 * replica, one user and one context per identity, the first one current.
 */
export function clientConfigYaml(p: ClientConfigParams): string {
  const rel = (path: string): string => relative(p.dir, path);
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    'current-context': p.users[0]?.name ?? '',
    clusters: [{ name: 'svcnet', cluster: { servers: p.servers, 'certificate-authority': rel(p.caFile) } }],
    users: p.users.map((u) => ({ name: u.name, user: { 'client-certificate': rel(u.certFile), 'client-key': rel(u.keyFile) } })),
    contexts: p.users.map((u) => ({ name: u.name, context: { cluster: 'svcnet', user: u.name } })),
  });
}
