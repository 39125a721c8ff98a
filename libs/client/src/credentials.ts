import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { credentials, type ChannelCredentials } from '@grpc/grpc-js';

/** How a client reaches a svcnet server over TLS (kubectl's kubeconfig fields). */
export interface ClientTlsOptions {
  /** CA bundle that signed the server's certificate (kubectl's certificate-authority). */
  caFile?: string;
  /** Client certificate and key (mutual TLS: the server authorizes by its Organization). */
  certFile?: string;
  keyFile?: string;
  /** Do not verify the server's certificate (kubectl's --insecure-skip-tls-verify). */
  insecureSkipVerify?: boolean;
}

/** A client setting that cannot work (unreadable file, key not matching its certificate, expired). */
export class ClientConfigError extends Error {
  override readonly name = 'ClientConfigError';
  readonly setting: string;
  readonly path: string;
  constructor(setting: string, path: string, problem: string, options?: { cause?: unknown }) {
    super(`${setting} ${path}: ${problem}`, options);
    this.setting = setting;
    this.path = path;
  }
}

function read(setting: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ClientConfigError(setting, path, `cannot be read: ${(err as Error).message}`, { cause: err });
  }
}

function checkCertificate(setting: string, path: string, pem: Buffer): void {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch (err) {
    throw new ClientConfigError(setting, path, `is not a PEM certificate: ${(err as Error).message}`, { cause: err });
  }
  if (new Date(cert.validTo) < new Date()) throw new ClientConfigError(setting, path, `expired on ${new Date(cert.validTo).toISOString()}`);
}

/**
 * gRPC channel credentials: TLS with the given CA (or the system's roots), a
 * client certificate when given; plaintext only for `undefined` (an explicit
 * choice the caller made). Files are read and checked now, so a bad one is
 * reported with its setting and path before any connection is tried.
 */
export function channelCredentials(tls: ClientTlsOptions | undefined): ChannelCredentials {
  if (!tls) return credentials.createInsecure();
  const ca = tls.caFile ? read('certificate-authority', tls.caFile) : null;
  if (ca && tls.caFile) checkCertificate('certificate-authority', tls.caFile, ca);
  let cert: Buffer | null = null;
  let key: Buffer | null = null;
  if (tls.certFile || tls.keyFile) {
    if (!tls.certFile || !tls.keyFile) {
      throw new ClientConfigError('client-certificate', tls.certFile ?? tls.keyFile ?? '', 'a client certificate needs both client-certificate and client-key');
    }
    cert = read('client-certificate', tls.certFile);
    checkCertificate('client-certificate', tls.certFile, cert);
    key = read('client-key', tls.keyFile);
    try {
      createSecureContext({ cert, key });
    } catch (err) {
      throw new ClientConfigError('client-key', tls.keyFile, /mismatch/i.test((err as Error).message) ? `does not match ${tls.certFile}` : (err as Error).message, { cause: err });
    }
  }
  return credentials.createSsl(ca, key, cert, tls.insecureSkipVerify ? { rejectUnauthorized: false, checkServerIdentity: () => undefined } : {});
}
