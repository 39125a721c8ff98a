import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { ServerCredentials } from '@grpc/grpc-js';
import type { Command } from 'commander';

/** A TLS file setting that cannot work; the message names the flag and the path. */
export class TlsConfigError extends Error {
  override readonly name = 'TlsConfigError';
  readonly flag: string;
  readonly path: string;
  constructor(flag: string, path: string, problem: string, options?: { cause?: unknown }) {
    super(path ? `--${flag} ${path}: ${problem}` : `--${flag}: ${problem}`, options);
    this.flag = flag;
    this.path = path;
  }
}

/** A server's TLS files, by kube-apiserver's flag names. */
export interface ServerTlsFiles {
  /** --tls-cert-file */
  certFile: string;
  /** --tls-private-key-file */
  keyFile: string;
  /** --client-ca-file: clients must present a certificate signed by it. */
  clientCaFile: string;
}

/** A client's TLS files. */
export interface ClientTlsFiles {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  /** Do not check the server's certificate (kubectl's --insecure-skip-tls-verify). */
  insecureSkipVerify?: boolean;
}

function read(flag: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new TlsConfigError(flag, path, `cannot be read: ${(err as Error).message}`, { cause: err });
  }
}

/** Reads a certificate (first in the file), refusing one that is malformed, expired or not yet valid. */
export function readCertificate(flag: string, path: string, now = new Date()): { pem: Buffer; cert: X509Certificate } {
  const pem = read(flag, path);
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch (err) {
    throw new TlsConfigError(flag, path, `is not a PEM certificate: ${(err as Error).message}`, { cause: err });
  }
  if (new Date(cert.validTo) < now) throw new TlsConfigError(flag, path, `expired on ${new Date(cert.validTo).toISOString()} (${cert.subject.replace(/\n/g, ', ')})`);
  if (new Date(cert.validFrom) > now) throw new TlsConfigError(flag, path, `is not valid before ${new Date(cert.validFrom).toISOString()}`);
  return { pem, cert };
}

/** Reads a certificate and its key and checks that they belong together. */
export function readKeyPair(certFlag: string, certPath: string, keyFlag: string, keyPath: string): { cert: Buffer; key: Buffer } {
  const { pem } = readCertificate(certFlag, certPath);
  const key = read(keyFlag, keyPath);
  try {
    createSecureContext({ cert: pem, key });
  } catch (err) {
    const msg = (err as Error).message;
    const problem = /mismatch/i.test(msg) ? `does not match the certificate ${certPath}` : `is not a usable private key: ${msg}`;
    throw new TlsConfigError(keyFlag, keyPath, problem, { cause: err });
  }
  return { cert: pem, key };
}

/**
 * Asks every client for a certificate but lets the handshake finish without
 * one, so that a missing or untrusted certificate gets a gRPC UNAUTHENTICATED
 * that says what was wrong, instead of a dropped connection.
 */
class ClientCertRequestingCredentials extends ServerCredentials {
  constructor(context: SecureContextOptions) {
    super({ requestCert: true, rejectUnauthorized: false }, context);
  }
  _equals(other: ServerCredentials): boolean {
    return other === this;
  }
}

/** gRPC server credentials for mutual TLS from the three kube-apiserver-style files. */
export function grpcServerCredentials(files: ServerTlsFiles): ServerCredentials {
  const { cert, key } = readKeyPair('tls-cert-file', files.certFile, 'tls-private-key-file', files.keyFile);
  const { pem: ca } = readCertificate('client-ca-file', files.clientCaFile);
  return new ClientCertRequestingCredentials({ cert, key, ca });
}

/** How a gRPC server serves: mutual TLS, or plaintext when asked for explicitly. */
export type ServingSecurity = { tls: ServerTlsFiles } | { plaintext: true };

/** The serving-security flags as parsed by commander. */
export interface ServingTlsFlagValues {
  tlsCertFile?: string;
  tlsPrivateKeyFile?: string;
  clientCaFile?: string;
  plaintext?: boolean;
}

/**
 * Adds kube-apiserver's serving flags: `--tls-cert-file`, `--tls-private-key-file`,
 * `--client-ca-file` (mutual TLS: clients need a certificate signed by it), and
 * `--plaintext` for an explicit, unauthenticated local try.
 */
export function addServingTlsFlags(cmd: Command, env: NodeJS.ProcessEnv = process.env, prefix = 'SVCNET'): Command {
  const fromEnv = (name: string): string | undefined => env[`${prefix}_${name}`] || undefined;
  return cmd
    .option('--tls-cert-file <file>', `serving certificate (PEM) [$${prefix}_TLS_CERT_FILE]`, fromEnv('TLS_CERT_FILE'))
    .option('--tls-private-key-file <file>', `key of --tls-cert-file [$${prefix}_TLS_PRIVATE_KEY_FILE]`, fromEnv('TLS_PRIVATE_KEY_FILE'))
    .option('--client-ca-file <file>', `CA bundle that signs client certificates; every client must present one [$${prefix}_CLIENT_CA_FILE]`, fromEnv('CLIENT_CA_FILE'))
    .option('--plaintext', 'serve without TLS and without client authentication (only for a quick local try)', false);
}

/** Turns the flags into a serving mode; refuses a half-configured TLS and a silent plaintext. */
export function servingSecurity(v: ServingTlsFlagValues): ServingSecurity {
  const given = [v.tlsCertFile, v.tlsPrivateKeyFile, v.clientCaFile].filter(Boolean).length;
  if (v.plaintext) {
    if (given > 0) throw new TlsConfigError('plaintext', '', 'cannot be combined with --tls-cert-file, --tls-private-key-file or --client-ca-file');
    return { plaintext: true };
  }
  if (given < 3) {
    const missing = [
      !v.tlsCertFile && '--tls-cert-file',
      !v.tlsPrivateKeyFile && '--tls-private-key-file',
      !v.clientCaFile && '--client-ca-file',
    ].filter(Boolean);
    throw new TlsConfigError(
      'tls-cert-file',
      '',
      `TLS needs ${missing.join(', ')} (svcnetctl certs issues them); pass --plaintext to serve without TLS explicitly`,
    );
  }
  return { tls: { certFile: v.tlsCertFile!, keyFile: v.tlsPrivateKeyFile!, clientCaFile: v.clientCaFile! } };
}

/** Server credentials for a serving mode (the files are read and checked now). */
export function serverCredentialsFor(security: ServingSecurity): ServerCredentials {
  return 'tls' in security ? grpcServerCredentials(security.tls) : ServerCredentials.createInsecure();
}

/**
 * Drops Node's DEP0123 warning ("Setting the TLS ServerName to an IP address is
 * not permitted by RFC 6066"): gRPC passes the dialed address as the server
 * name, and for an IP the certificate is still checked against its IP SANs, as
 * it should be. Only that one warning is dropped; a CLI's stderr stays clean.
 */
export function quietIpServernameWarning(): void {
  const emit = process.emitWarning.bind(process) as (...args: unknown[]) => void;
  process.emitWarning = ((warning: unknown, ...rest: unknown[]) => {
    const code = typeof rest[0] === 'object' && rest[0] !== null ? (rest[0] as { code?: string }).code : rest[1];
    if (code === 'DEP0123') return;
    emit(warning, ...rest);
  }) as typeof process.emitWarning;
}
