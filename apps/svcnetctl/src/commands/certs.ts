/**
 * `svcnetctl certs init|issue`: the cluster's CA and certificates, as kubeadm's
 * certs phase makes them, through the system's openssl (libs/pki).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { clientConfigYaml } from '@svcnet/client';
import { createClusterPki, issueCertificate, pkiPath, type ClusterPki } from '@svcnet/pki';
import { UsageError } from '../cli-errors.js';
import type { CliIo } from './context.js';

export interface CertsInitOptions {
  dir: string;
  serverHosts?: string;
  /** The state service address(es) the written config points at. */
  stateServer?: string;
  days?: string;
}

export interface CertsIssueOptions {
  dir: string;
  name: string;
  commonName?: string;
  org?: string[];
  hosts?: string;
  serving?: boolean;
  days?: string;
}

function days(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--days ${text}: a positive number of days`);
  return n;
}

/** The svcnetctl config for a fresh PKI: an `admin` (editor) and a `viewer` context on the same servers. */
export function configFor(pki: ClusterPki, servers: string[], configDir: string): string {
  return clientConfigYaml({
    servers,
    caFile: pki.ca.certFile,
    dir: configDir,
    users: [
      { name: 'admin', ...pki.admin },
      { name: 'viewer', ...pki.viewer },
    ],
  });
}

export async function runCertsInit(io: CliIo, o: CertsInitOptions): Promise<void> {
  const hosts = (o.serverHosts ?? '').split(',').map((h) => h.trim()).filter(Boolean);
  const pki = await createClusterPki({ dir: o.dir, serverHosts: hosts, ...(days(o.days) ? { days: days(o.days)! } : {}) });
  const servers = (o.stateServer ?? `${hosts[0] ?? '127.0.0.1'}:9402`).split(',').map((s) => s.trim());
  writeFileSync(join(o.dir, 'config'), configFor(pki, servers, o.dir), { mode: 0o600 });
  for (const [what, files] of Object.entries(pki)) io.stdout(`[certs] ${what}: ${files.certFile}\n`);
  io.stdout(`[certs] svcnetctl config: ${join(o.dir, 'config')} (use it with --svcnetconfig or SVCNETCONFIG)\n`);
}

export async function runCertsIssue(io: CliIo, o: CertsIssueOptions): Promise<void> {
  if (!/^[a-z0-9][-a-z0-9.]*$/.test(o.name)) throw new UsageError(`--name ${o.name}: a file name such as alice or svcnet-state`);
  const hosts = (o.hosts ?? '').split(',').map((h) => h.trim()).filter(Boolean);
  if (o.serving && hosts.length === 0) throw new UsageError('--serving certificates need --hosts (the addresses clients dial)');
  const ca = { certFile: pkiPath(o.dir, 'ca', 'crt'), keyFile: pkiPath(o.dir, 'ca', 'key') };
  const files = await issueCertificate({
    ca,
    dir: o.dir,
    name: o.name,
    commonName: o.commonName ?? o.name,
    organizations: o.org ?? [],
    usage: o.serving ? 'server' : 'client',
    ...(hosts.length > 0 ? { hosts } : {}),
    ...(days(o.days) ? { days: days(o.days)! } : {}),
  });
  io.stdout(`[certs] ${o.name}: ${files.certFile} ${files.keyFile}\n`);
}
