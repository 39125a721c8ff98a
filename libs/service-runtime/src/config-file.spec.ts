import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { configFileArgv, configFileText } from './config-file.js';

function command(): Command {
  return new Command()
    .option('--listen <addr>', '', '127.0.0.1:9402')
    .option('--kv-replicas <n>', '', '1')
    .option('--nats-url <urls>', '')
    .option('--plaintext', '', false)
    .option('--config <file>', '');
}
const head = 'apiVersion: svcnet.io/v1alpha1\nkind: StateConfiguration\n';
const argv = (yaml: string) => configFileArgv({ path: 'state.yaml', apiVersion: 'svcnet.io/v1alpha1', kind: 'StateConfiguration', command: command(), text: yaml });

describe('configuration files of the control-plane programs', () => {
  it('turns keys (the flags\u2019 long names) into flags', () => {
    expect(argv(`${head}listen: 0.0.0.0:9402\nkv-replicas: 3\nnats-url: [nats://a:4222, nats://b:4222]\nplaintext: true\n`)).toEqual([
      '--listen=0.0.0.0:9402',
      '--kv-replicas=3',
      '--nats-url=nats://a:4222,nats://b:4222',
      '--plaintext',
    ]);
  });
  const refused: { name: string; yaml: string; message: RegExp }[] = [
    { name: 'an unknown field, listing the known ones', yaml: `${head}listn: x\n`, message: /unknown field "listn"; the fields are the flags' long names: kv-replicas, listen, nats-url, plaintext/ },
    { name: 'the file naming itself', yaml: `${head}config: other.yaml\n`, message: /unknown field "config"/ },
    { name: 'another kind', yaml: 'apiVersion: svcnet.io/v1alpha1\nkind: AllocatorConfiguration\n', message: /apiVersion\/kind must be svcnet\.io\/v1alpha1\/StateConfiguration/ },
    { name: 'a switch that is not a boolean', yaml: `${head}plaintext: "yes"\n`, message: /field "plaintext" must be true or false/ },
    { name: 'a nested mapping', yaml: `${head}listen: { a: 1 }\n`, message: /field "listen" must be a string, a number or a list/ },
  ];
  for (const c of refused) it(`refuses ${c.name}`, () => expect(() => argv(c.yaml)).toThrow(c.message));

  it('writes the effective settings back in the same shape', () => {
    const cmd = command();
    cmd.parse(['--kv-replicas', '3', '--plaintext'], { from: 'user' });
    const text = configFileText({ apiVersion: 'svcnet.io/v1alpha1', kind: 'StateConfiguration', command: cmd });
    expect(configFileArgv({ path: 'x', apiVersion: 'svcnet.io/v1alpha1', kind: 'StateConfiguration', command: command(), text })).toEqual([
      '--listen=127.0.0.1:9402',
      '--kv-replicas=3',
      '--plaintext',
    ]);
  });
});
