import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClusterPki, type ClusterPki } from '@svcnet/pki';
import { readCertificate, readKeyPair, servingSecurity } from './tls.js';

describe('TLS files and serving flags', () => {
  const dir = mkdtempSync(join(tmpdir(), 'svcnet-tls-'));
  let pki: ClusterPki;
  beforeAll(async () => {
    pki = await createClusterPki({ dir, serverHosts: [] });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a certificate past its end date is refused with the flag and the path', () => {
    expect(() => readCertificate('tls-cert-file', pki.state.certFile, new Date('2100-01-01'))).toThrow(/^--tls-cert-file .*state\.crt: expired on /);
    expect(readCertificate('tls-cert-file', pki.state.certFile).cert.subject).toMatch(/CN=svcnet-state/);
  });

  it('a key that belongs to another certificate, or is not a key, is refused', () => {
    expect(() => readKeyPair('tls-cert-file', pki.state.certFile, 'tls-private-key-file', pki.allocator.keyFile)).toThrow(/^--tls-private-key-file .*allocator\.key: does not match the certificate/);
    const junk = join(dir, 'junk.key');
    writeFileSync(junk, 'not a key');
    expect(() => readKeyPair('tls-cert-file', pki.state.certFile, 'tls-private-key-file', junk)).toThrow(/^--tls-private-key-file .*junk\.key: is not a usable private key/);
    expect(() => readCertificate('client-ca-file', junk)).toThrow(/^--client-ca-file .*junk\.key: is not a PEM certificate/);
  });

  const flagCases: { name: string; flags: Parameters<typeof servingSecurity>[0]; want?: unknown; error?: RegExp }[] = [
    { name: 'all three files: mutual TLS', flags: { tlsCertFile: 'a', tlsPrivateKeyFile: 'b', clientCaFile: 'c' }, want: { tls: { certFile: 'a', keyFile: 'b', clientCaFile: 'c' } } },
    { name: 'plaintext only when asked for', flags: { plaintext: true }, want: { plaintext: true } },
    { name: 'nothing given is refused', flags: {}, error: /TLS needs --tls-cert-file, --tls-private-key-file, --client-ca-file .*--plaintext/ },
    { name: 'half a TLS setup is refused', flags: { tlsCertFile: 'a' }, error: /TLS needs --tls-private-key-file, --client-ca-file/ },
    { name: 'plaintext with TLS files is refused', flags: { plaintext: true, tlsCertFile: 'a' }, error: /--plaintext: cannot be combined/ },
  ];
  for (const c of flagCases) {
    it(c.name, () => {
      if (c.error) expect(() => servingSecurity(c.flags)).toThrow(c.error);
      else expect(servingSecurity(c.flags)).toEqual(c.want);
    });
  }
});
