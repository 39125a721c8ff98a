import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';

/** openssl failed; the message carries what it printed. */
export class PkiError extends Error {
  override readonly name = 'PkiError';
}

function openssl(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('openssl', args, { timeout: 30_000 }, (err, stdout, stderr) => {
      if (err) reject(new PkiError(`openssl ${args[0]} failed: ${(stderr || err.message).trim()}`, { cause: err }));
      else resolve(stdout);
    });
  });
}

/** A certificate and its key on disk. */
export interface KeyPairFiles {
  certFile: string;
  keyFile: string;
}

/** What a certificate is for: TLS servers, TLS clients, or both. */
export type CertUsage = 'server' | 'client' | 'server+client';

/** Parameters of {@link issueCertificate}. */
export interface IssueParams {
  ca: KeyPairFiles;
  /** Written as `<dir>/<name>.crt` and `<dir>/<name>.key` (0600). */
  dir: string;
  name: string;
  commonName: string;
  /** The certificate's Organizations; svcnet authorizes by them (`svcnet:viewers`, `svcnet:editors`). */
  organizations?: string[];
  /** Subject alternative names of a server certificate: IP addresses and DNS names. */
  hosts?: string[];
  usage: CertUsage;
  /** Validity in days (default 365). */
  days?: number;
}

function subject(commonName: string, organizations: readonly string[] = []): string {
  const esc = (v: string): string => v.replace(/[/\\=+,]/g, (c) => `\\${c}`);
  return `${organizations.map((o) => `/O=${esc(o)}`).join('')}/CN=${esc(commonName)}`;
}

/** A new EC P-256 key (what kubeadm defaults to for new clusters is RSA 2048; ECDSA is smaller and as strong). */
async function newKey(path: string): Promise<void> {
  await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path]);
  chmodSync(path, 0o600);
}

/** Creates a self-signed CA (`<dir>/<name>.crt`, `.key`), as kubeadm's certs phase does for a cluster. */
export async function createCa(params: { dir: string; name?: string; commonName?: string; days?: number }): Promise<KeyPairFiles> {
  mkdirSync(params.dir, { recursive: true, mode: 0o700 });
  const name = params.name ?? 'ca';
  const keyFile = join(params.dir, `${name}.key`);
  const certFile = join(params.dir, `${name}.crt`);
  await newKey(keyFile);
  await openssl([
    'req', '-x509', '-new', '-key', keyFile, '-out', certFile, '-days', String(params.days ?? 3650),
    '-subj', subject(params.commonName ?? 'svcnet-ca'),
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
  ]);
  return { certFile, keyFile };
}

/**
 * Issues a certificate signed by the CA: a key, a CSR, and the signature with
 * the right extensions (server and/or client auth, SANs for servers).
 */
export async function issueCertificate(p: IssueParams): Promise<KeyPairFiles> {
  mkdirSync(p.dir, { recursive: true, mode: 0o700 });
  const keyFile = join(p.dir, `${p.name}.key`);
  const certFile = join(p.dir, `${p.name}.crt`);
  const csrFile = join(p.dir, `${p.name}.csr`);
  const extFile = join(p.dir, `${p.name}.ext`);
  await newKey(keyFile);
  await openssl(['req', '-new', '-key', keyFile, '-out', csrFile, '-subj', subject(p.commonName, p.organizations)]);
  const usages = p.usage === 'server' ? 'serverAuth' : p.usage === 'client' ? 'clientAuth' : 'serverAuth,clientAuth';
  const sans = (p.hosts ?? []).map((h) => (isIP(h) ? `IP:${h}` : `DNS:${h}`));
  const ext = [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    `extendedKeyUsage=${usages}`,
    ...(sans.length > 0 ? [`subjectAltName=${sans.join(',')}`] : []),
  ];
  writeFileSync(extFile, `${ext.join('\n')}\n`);
  try {
    await openssl([
      'x509', '-req', '-in', csrFile, '-CA', p.ca.certFile, '-CAkey', p.ca.keyFile, '-CAcreateserial',
      '-out', certFile, '-days', String(p.days ?? 365), '-extfile', extFile,
    ]);
  } finally {
    rmSync(csrFile, { force: true });
    rmSync(extFile, { force: true });
  }
  return { certFile, keyFile };
}
