import { describe, expect, it } from 'vitest';
import { resolveConnection, type ConnectionFlags } from './config.js';

const CONFIG = `apiVersion: v1
kind: Config
current-context: local
clusters:
- name: local
  cluster:
    servers: [192.168.77.2:9000, 192.168.77.2:9010]
    certificate-authority: pki/ca.crt
- name: other
  cluster: { server: "https://10.0.0.1:9402", insecure-skip-tls-verify: true }
users:
- name: admin
  user: { client-certificate: pki/admin.crt, client-key: /abs/admin.key }
contexts:
- name: local
  context: { cluster: local, user: admin, namespace: shop }
- name: other
  context: { cluster: other }
`;

function resolve(flags: ConnectionFlags, env: Record<string, string> = {}, files: Record<string, string> = { '/home/u/.svcnet/config': CONFIG }) {
  return resolveConnection(flags, { env, readText: (p) => files[p], home: '/home/u' });
}

describe('resolveConnection (kubectl precedence)', () => {
  const cases: { name: string; flags: ConnectionFlags; env?: Record<string, string>; files?: Record<string, string>; want: unknown }[] = [
    {
      name: 'the current context of ~/.svcnet/config, relative paths next to the file',
      flags: {},
      want: {
        server: '192.168.77.2:9000,192.168.77.2:9010',
        tls: { caFile: '/home/u/.svcnet/pki/ca.crt', certFile: '/home/u/.svcnet/pki/admin.crt', keyFile: '/abs/admin.key' },
        namespace: 'shop',
      },
    },
    { name: '--context picks another', flags: { context: 'other' }, want: { server: '10.0.0.1:9402', tls: { insecureSkipVerify: true } } },
    {
      name: 'flags beat the file',
      flags: { server: 'https://1.2.3.4:9402', certificateAuthority: '/ca.crt' },
      want: { server: '1.2.3.4:9402', tls: { caFile: '/ca.crt', certFile: '/home/u/.svcnet/pki/admin.crt', keyFile: '/abs/admin.key' }, namespace: 'shop' },
    },
    { name: 'http:// is plaintext, explicitly', flags: { server: 'http://127.0.0.1:9402' }, files: {}, want: { server: '127.0.0.1:9402', tls: undefined } },
    { name: 'SVCNET_SERVER when no flag', flags: {}, env: { SVCNET_SERVER: 'http://a:1' }, files: {}, want: { server: 'a:1', tls: undefined } },
    { name: 'no file, no flag: the default, over TLS', flags: {}, files: {}, want: { server: '127.0.0.1:9402', tls: {} } },
    {
      name: '$SVCNETCONFIG names the file',
      flags: {},
      env: { SVCNETCONFIG: '/etc/svcnet/config' },
      files: { '/etc/svcnet/config': CONFIG },
      want: { server: '192.168.77.2:9000,192.168.77.2:9010', tls: { caFile: '/etc/svcnet/pki/ca.crt', certFile: '/etc/svcnet/pki/admin.crt', keyFile: '/abs/admin.key' }, namespace: 'shop' },
    },
  ];
  for (const c of cases) it(c.name, () => expect(resolve(c.flags, c.env, c.files)).toEqual(c.want));

  it('refuses a context or an explicit file that does not exist', () => {
    expect(() => resolve({ context: 'nope' })).toThrow(/context "nope" does not exist/);
    expect(() => resolve({ svcnetconfig: '/missing' })).toThrow(/error loading config file "\/missing"/);
    expect(() => resolve({}, {}, { '/home/u/.svcnet/config': '- a list' })).toThrow(/not a mapping/);
  });
});
