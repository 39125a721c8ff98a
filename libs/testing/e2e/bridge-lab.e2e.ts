/**
 * BridgeLab against the real kernel: one pod reaches another over the bridge,
 * spawn() runs inside a pod, destroy() leaves no namespace. Needs
 * root; namespaces are named brl-<random>-….
 */
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { BridgeLab, listNetns } from '@svcnet/testing';

const notRoot = process.getuid?.() === 0 ? undefined : 'needs root to create network namespaces';

describe.skipIf(notRoot !== undefined)(`BridgeLab${notRoot ? ` — skipped: ${notRoot}` : ''}`, () => {
  const lab = new BridgeLab({ prefix: `brl-${randomBytes(3).toString('hex')}`, sysctls: { 'net.ipv4.tcp_tw_reuse': '1' } });
  afterAll(async () => {
    await lab.destroy();
  });

  it('a pod reaches another over the bridge; spawn runs in a pod; destroy removes every namespace', async () => {
    await lab.create(['a', 'b']);
    const [a, b] = [lab.pod('a'), lab.pod('b')];
    expect([a.ip, b.ip]).toEqual(['10.244.1.10', '10.244.1.11']);
    expect((await listNetns()).filter((n) => n.startsWith(`${lab.lab.prefix}-`)).sort()).toEqual([a.ns, b.ns, lab.node].sort());
    expect((await lab.run(b.ns, 'sysctl', ['-n', 'net.ipv4.tcp_tw_reuse'])).trim()).toBe('1');

    const server = lab.spawn(b.ns, 'socat', ['-u', 'TCP-LISTEN:7070,reuseaddr', 'STDOUT']);
    let received = '';
    server.stdout!.on('data', (d: Buffer) => (received += String(d)));
    for (let i = 0; i < 50 && !(await lab.run(b.ns, 'ss', ['-H', '-l', '-t', '-n', 'sport = :7070'])).trim(); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    await lab.run(a.ns, 'socat', ['-u', 'STDIN', `TCP:${b.ip}:7070`], 'hello over the bridge\n');
    await expect.poll(() => received).toBe('hello over the bridge\n');

    await lab.destroy();
    expect((await listNetns()).filter((n) => n.startsWith(`${lab.lab.prefix}-`))).toEqual([]);
    expect(server.exitCode !== null || server.signalCode !== null || server.killed).toBe(true);
  });
});
