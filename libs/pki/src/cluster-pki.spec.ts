import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createClusterPki } from './cluster-pki.js';

describe('createClusterPki (the system openssl)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'svcnet-pki-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('makes a CA and certificates with the right names, organizations, SANs and usages', async () => {
    const pki = await createClusterPki({ dir, serverHosts: ['192.168.77.2'] });
    const cert = (f: string) => new X509Certificate(readFileSync(f));
    const ca = cert(pki.ca.certFile);
    expect(ca.ca).toBe(true);
    const cases: { name: string; file: string; subject: RegExp; san?: RegExp; usage: string }[] = [
      { name: 'state serving', file: pki.state.certFile, subject: /CN=svcnet-state/, san: /IP Address:192\.168\.77\.2.*IP Address:127\.0\.0\.1.*DNS:localhost/, usage: 'TLS Web Server Authentication' },
      { name: 'allocator serving', file: pki.allocator.certFile, subject: /CN=svcnet-allocator/, san: /IP Address:192\.168\.77\.2/, usage: 'TLS Web Server Authentication' },
      { name: 'state to allocator', file: pki.stateToAllocator.certFile, subject: /O=svcnet:editors\nCN=svcnet-state/, usage: 'TLS Web Client Authentication' },
      { name: 'admin', file: pki.admin.certFile, subject: /O=svcnet:editors\nCN=admin/, usage: 'TLS Web Client Authentication' },
      { name: 'viewer', file: pki.viewer.certFile, subject: /O=svcnet:viewers\nCN=viewer/, usage: 'TLS Web Client Authentication' },
    ];
    for (const c of cases) {
      const x = cert(c.file);
      expect(x.subject, c.name).toMatch(c.subject);
      expect(x.checkIssued(ca), c.name).toBe(true);
      expect(x.verify(ca.publicKey), c.name).toBe(true);
      if (c.san) expect(x.subjectAltName, c.name).toMatch(c.san);
      expect(x.keyUsage?.join(',') ?? '', c.name).toBe(c.usage === 'TLS Web Server Authentication' ? '1.3.6.1.5.5.7.3.1' : '1.3.6.1.5.5.7.3.2');
    }
    expect(statSync(pki.admin.keyFile).mode & 0o777).toBe(0o600);
  });
});
