import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { addNatsFlags, natsConnectSettings, type NatsFlagValues } from './nats-flags.js';

function parse(argv: string[], env: NodeJS.ProcessEnv): ReturnType<typeof natsConnectSettings> {
  const cmd = addNatsFlags(new Command().exitOverride(), env);
  cmd.parse(argv, { from: 'user' });
  return natsConnectSettings(cmd.opts<NatsFlagValues>());
}

describe('NATS flags', () => {
  const cases: { name: string; argv: string[]; env: NodeJS.ProcessEnv; want: ReturnType<typeof natsConnectSettings> }[] = [
    { name: 'built-in default', argv: [], env: {}, want: { url: 'nats://127.0.0.1:4222' } },
    { name: 'from the NATS tools environment', argv: [], env: { NATS_URL: 'nats://a:4222,nats://b:4222', NATS_CREDS: '/etc/svcnet/agent.creds' }, want: { url: 'nats://a:4222,nats://b:4222', credsFile: '/etc/svcnet/agent.creds' } },
    { name: 'flags beat the environment', argv: ['--nats-url', 'nats://c:4222', '--nats-creds', 'x.creds'], env: { NATS_URL: 'nats://a:4222', NATS_CREDS: 'y.creds' }, want: { url: 'nats://c:4222', credsFile: 'x.creds' } },
    { name: 'TLS files', argv: ['--nats-ca', 'ca.crt', '--nats-cert', 'c.crt', '--nats-key', 'c.key'], env: {}, want: { url: 'nats://127.0.0.1:4222', tls: { caFile: 'ca.crt', certFile: 'c.crt', keyFile: 'c.key' } } },
  ];
  for (const c of cases) it(c.name, () => expect(parse(c.argv, c.env)).toEqual(c.want));
});
