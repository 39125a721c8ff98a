/**
 * svcnetctl's kubeconfig: which state service(s) to talk to and with which
 * certificates, in kubectl's file shape and with kubectl's flag precedence.
 *
 * ```yaml
 * apiVersion: v1
 * kind: Config
 * current-context: local
 * clusters:
 * - name: local
 *   cluster:
 *     server: https://192.168.77.2:9000          # or servers: [a, b] — replicas, client-side failover
 *     certificate-authority: pki/ca.crt          # relative paths are relative to this file
 * users:
 * - name: admin
 *   user: { client-certificate: pki/admin.crt, client-key: pki/admin.key }
 * contexts:
 * - name: local
 *   context: { cluster: local, user: admin, namespace: default }
 * ```
 */
import { dirname, isAbsolute, join } from 'node:path';
import { parse } from 'yaml';
import type { ClientTlsOptions } from '@svcnet/client';
import { UsageError } from './cli-errors.js';

/** Default address of the state service (apps/state's default `--listen`). */
export const DEFAULT_SERVER = '127.0.0.1:9402';

/** The connection flags kubectl has. */
export interface ConnectionFlags {
  svcnetconfig?: string;
  context?: string;
  server?: string;
  certificateAuthority?: string;
  clientCertificate?: string;
  clientKey?: string;
  insecureSkipTlsVerify?: boolean;
}

/** Where and how to connect. */
export interface ConnectionSettings {
  /** One or several comma-separated host:port (replicas). */
  server: string;
  /** TLS settings; undefined only for an explicit `http://` server. */
  tls: ClientTlsOptions | undefined;
  /** The context's namespace, if it sets one. */
  namespace?: string;
}

interface FileCluster {
  server?: string;
  servers?: string[];
  'certificate-authority'?: string;
  'insecure-skip-tls-verify'?: boolean;
}
interface FileUser {
  'client-certificate'?: string;
  'client-key'?: string;
}
interface ConfigFile {
  'current-context'?: string;
  clusters?: { name: string; cluster: FileCluster }[];
  users?: { name: string; user: FileUser }[];
  contexts?: { name: string; context: { cluster: string; user?: string; namespace?: string } }[];
}

/** What resolution needs from the outside world (tests pass in-memory files). */
export interface ConfigSources {
  env: Readonly<Record<string, string | undefined>>;
  /** Text of a file, or undefined when it does not exist. */
  readText(path: string): string | undefined;
  home: string | undefined;
}

function load(path: string, text: string): ConfigFile {
  try {
    const doc = parse(text) as unknown;
    if (doc === null || doc === undefined) return {};
    if (typeof doc !== 'object' || Array.isArray(doc)) throw new Error('the document is not a mapping');
    return doc as ConfigFile;
  } catch (err) {
    throw new UsageError(`error loading config file "${path}": ${(err as Error).message}`);
  }
}

/**
 * Resolves the connection like kubectl: flags over the environment
 * (`SVCNET_SERVER`) over the config file (`--svcnetconfig`, else `$SVCNETCONFIG`,
 * else `~/.svcnet/config` when it exists) over the default. A server written
 * `http://…` is plaintext (only ever on request); anything else is TLS.
 */
export function resolveConnection(flags: ConnectionFlags, sources: ConfigSources): ConnectionSettings {
  const explicitPath = flags.svcnetconfig ?? (sources.env['SVCNETCONFIG'] || undefined);
  const defaultPath = sources.home ? join(sources.home, '.svcnet', 'config') : undefined;
  const path = explicitPath ?? defaultPath;
  const text = path ? sources.readText(path) : undefined;
  if (explicitPath && text === undefined) throw new UsageError(`error loading config file "${explicitPath}": no such file`);
  const file = path && text !== undefined ? load(path, text) : {};
  const base = path ? dirname(path) : '.';
  const rel = (p: string | undefined): string | undefined => (p === undefined ? undefined : isAbsolute(p) ? p : join(base, p));

  const contextName = flags.context ?? file['current-context'];
  const ctx = contextName ? file.contexts?.find((c) => c.name === contextName)?.context : undefined;
  if (flags.context && !ctx) throw new UsageError(`context "${flags.context}" does not exist in ${path ?? 'the config file'}`);
  const cluster = ctx ? file.clusters?.find((c) => c.name === ctx.cluster)?.cluster : undefined;
  const user = ctx?.user ? file.users?.find((u) => u.name === ctx.user)?.user : undefined;

  const fileServers = cluster?.servers?.join(',') ?? cluster?.server;
  const server = flags.server ?? (sources.env['SVCNET_SERVER'] || undefined) ?? fileServers ?? DEFAULT_SERVER;
  const plaintext = server.split(',').every((s) => s.trim().startsWith('http://'));
  if (!plaintext && server.split(',').some((s) => s.trim().startsWith('http://'))) {
    throw new UsageError(`--server ${server}: mix of http:// and TLS servers`);
  }
  const stripped = server
    .split(',')
    .map((s) => s.trim().replace(/^https?:\/\//, '').replace(/\/+$/, ''))
    .join(',');
  if (plaintext) return { server: stripped, tls: undefined, ...(ctx?.namespace ? { namespace: ctx.namespace } : {}) };
  const tls: ClientTlsOptions = {};
  const ca = flags.certificateAuthority ?? rel(cluster?.['certificate-authority']);
  const cert = flags.clientCertificate ?? rel(user?.['client-certificate']);
  const key = flags.clientKey ?? rel(user?.['client-key']);
  if (ca) tls.caFile = ca;
  if (cert) tls.certFile = cert;
  if (key) tls.keyFile = key;
  if (flags.insecureSkipTlsVerify ?? cluster?.['insecure-skip-tls-verify']) tls.insecureSkipVerify = true;
  return { server: stripped, tls, ...(ctx?.namespace ? { namespace: ctx.namespace } : {}) };
}
