import { describe, expect, it } from 'vitest';
import { FakeNetExec } from './net-exec.js';
import { NetnsLab, NetnsNameError, listNetns } from './netns.js';

function lab(): { lab: NetnsLab; exec: FakeNetExec } {
  const exec = new FakeNetExec();
  return { lab: new NetnsLab({ prefix: 'tst', exec }), exec };
}

describe('NetnsLab', () => {
  it('creates both veth ends inside namespaces (never the root one)', async () => {
    const { lab: l, exec } = lab();
    await l.addVeth({ ns: 'tst-a', name: 'v1', peerNs: 'tst-b', peerName: 'eth0' });
    const ipCalls = exec.callsTo('ip').map((c) => c.args.join(' '));
    expect(ipCalls[0]).toBe('-n tst-a link add v1 type veth peer name eth0 netns tst-b');
    expect(ipCalls.every((c) => c.startsWith('-n tst-'))).toBe(true);
  });

  const refused = [
    { name: 'namespace of another prefix', run: (l: NetnsLab) => l.addRoute('other-a', 'default', '10.0.0.1') },
    { name: 'peer in another prefix', run: (l: NetnsLab) => l.addVeth({ ns: 'tst-a', name: 'v1', peerNs: 'root', peerName: 'eth0' }) },
    { name: 'interface name over 15 bytes', run: (l: NetnsLab) => l.addBridge('tst-a', 'a-very-long-bridge') },
    { name: 'option-looking interface name', run: (l: NetnsLab) => l.addAddress('tst-a', '-all', '10.0.0.1/24') },
    { name: 'non-network sysctl', run: (l: NetnsLab) => l.sysctl('tst-a', 'kernel.panic', '1') },
  ];
  it.each(refused)('refuses $name before running anything', async ({ run }) => {
    const { lab: l, exec } = lab();
    await expect(run(l)).rejects.toBeInstanceOf(NetnsNameError);
    expect(exec.calls).toEqual([]);
  });

  it('runs sysctls inside the namespace', async () => {
    const { lab: l, exec } = lab();
    await l.sysctl('tst-n1', 'net.ipv4.ip_forward', '1');
    expect(exec.calls[0]).toMatchObject({ file: 'sysctl', netns: 'tst-n1', args: ['-q', '-w', 'net.ipv4.ip_forward=1'] });
  });

  it('cleanup deletes what it made and leftovers with its prefix only', async () => {
    const exec = new FakeNetExec().on({ file: 'ip', match: (r) => r.args[1] === 'list', result: { stdout: 'tst-a (id: 1)\ntst-old\nother-x\n' } });
    const l = new NetnsLab({ prefix: 'tst', exec });
    await l.cleanup();
    const deleted = exec.callsTo('ip').filter((c) => c.args[1] === 'del').map((c) => c.args[2]);
    expect(deleted.sort()).toEqual(['tst-a', 'tst-old']);
  });
});

describe('listNetns', () => {
  it('strips the id suffix', async () => {
    const exec = new FakeNetExec().on({ file: 'ip', result: { stdout: 'a (id: 0)\nb\n' } });
    expect(await listNetns(exec)).toEqual(['a', 'b']);
  });
});

describe('NetnsLab.ipBatch', () => {
  it('sends every command on stdin of one ip process inside the namespace', async () => {
    const { lab: l, exec } = lab();
    await l.ipBatch('tst-a', [
      ['link', 'set', 'eth0', 'up'],
      ['route', 'add', 'default', 'via', '10.0.0.1'],
    ]);
    expect(exec.calls).toHaveLength(1);
    expect(exec.calls[0]).toMatchObject({ file: 'ip', args: ['-n', 'tst-a', '-batch', '-'], input: 'link set eth0 up\nroute add default via 10.0.0.1\n' });
  });
  const bad = [
    { name: 'a newline smuggling a second command', word: 'eth0\nlink del cbr0' },
    { name: 'a space', word: 'eth0 up' },
    { name: 'an empty word', word: '' },
  ];
  it.each(bad)('refuses $name', async ({ word }) => {
    const { lab: l, exec } = lab();
    await expect(l.ipBatch('tst-a', [['link', 'set', word]])).rejects.toBeInstanceOf(NetnsNameError);
    expect(exec.calls).toEqual([]);
  });
});
