import { FakeNetExec } from '@svcnet/netexec';
import { BackendApplyError } from '@svcnet/proxy-core';
import { buildEndpoints, buildService } from '@svcnet/proxy-core/testing';
import { describe, expect, it } from 'vitest';
import { cleanupText, IptablesBackend } from './iptables-backend.js';
import { JUMP_RULES } from './jump-rules.js';
import type { IptablesPlan } from './plan.js';
import { parseSave } from './save-parser.js';
import { NODE, stateOf } from './test-fixtures.js';

const EMPTY_SAVE = `*nat\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n`;

const state = stateOf([buildService({ name: 'a', clusterIP: '10.96.0.1' })], [buildEndpoints({ name: 'a', addresses: ['10.244.1.2@n1'] })]);

function renderWith(b: IptablesBackend, last?: IptablesPlan, full = true) {
  return b.render({ state, config: NODE, full, changed: new Set(), lastApplied: last });
}

/** A save that reflects a plan as the kernel would hold it (rule counts matter). */
function saveOf(plan: IptablesPlan, jumps = true): string {
  const out: string[] = [];
  for (const [table, chains] of [
    ['nat', plan.nat],
    ['filter', plan.filter],
  ] as const) {
    out.push(`*${table}`);
    for (const c of chains.keys()) out.push(`:${c} - [0:0]`);
    if (jumps) for (const j of JUMP_RULES.filter((x) => x.table === table)) out.push(`-A ${j.chain} ${j.spec}`);
    for (const lines of chains.values()) out.push(...lines);
    out.push('COMMIT');
  }
  return out.join('\n') + '\n';
}

describe('IptablesBackend', () => {
  it('first apply: reads the kernel once, deletes leftovers and adds jumps in the same restore', async () => {
    const exec = new FakeNetExec().on({
      file: 'iptables-nft-save',
      result: { stdout: EMPTY_SAVE.replace(':POSTROUTING ACCEPT [0:0]', ':POSTROUTING ACCEPT [0:0]\n:KUBE-SVC-OLDOLDOLDOLDOLD - [0:0]\n:OTHER - [0:0]') },
    });
    const b = new IptablesBackend({ exec, variant: 'nft', netns: 'ipt-x' });
    const result = await b.apply(renderWith(b));
    // save, restore, and route_localnet for localhost node ports (in the same namespace).
    expect(result.calls).toBe(3);
    expect(exec.callsTo('sysctl').map((c) => [c.args.join(' '), c.netns])).toEqual([['-w net.ipv4.conf.all.route_localnet=1', 'ipt-x']]);
    const [restore] = exec.callsTo('iptables-nft-restore');
    expect(restore!.args).toEqual(['-w', '--noflush']);
    expect(restore!.netns).toBe('ipt-x');
    const input = String(restore!.input);
    expect(input).toContain('-X KUBE-SVC-OLDOLDOLDOLDOLD');
    expect(input).not.toContain('OTHER');
    expect(input).toContain('-I PREROUTING 1 -m comment --comment "kubernetes service portals" -j KUBE-SERVICES');
    expect(input).toContain('-I FORWARD 1 -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD');
  });

  it('later applies: one restore, no read', async () => {
    const exec = new FakeNetExec().on({ file: 'iptables-nft-save', result: { stdout: EMPTY_SAVE } });
    const b = new IptablesBackend({ exec, variant: 'nft' });
    const p1 = renderWith(b);
    await b.apply(p1);
    const p2 = renderWith(b, p1, true);
    const result = await b.apply(p2);
    expect(result.calls).toBe(1);
    expect(exec.callsTo('iptables-nft-save')).toHaveLength(1);
    expect(String(exec.callsTo('iptables-nft-restore')[1]!.input)).not.toContain('-I PREROUTING');
  });

  it('a failed restore throws BackendApplyError and the next apply reads the kernel again', async () => {
    const exec = new FakeNetExec()
      .on({ file: 'iptables-legacy-save', result: { stdout: EMPTY_SAVE } })
      .on({ file: 'iptables-legacy-restore', fail: { exitCode: 2, stderr: 'iptables-restore: line 7 failed' } });
    const b = new IptablesBackend({ exec, variant: 'legacy' });
    let restoreFailures = 0;
    b.observe({ iptablesRestoreFailed: () => restoreFailures++ });
    const p1 = renderWith(b);
    await expect(b.apply(p1)).rejects.toBeInstanceOf(BackendApplyError);
    await expect(b.apply(p1)).rejects.toThrow(/line 7 failed/);
    expect(exec.callsTo('iptables-legacy-save')).toHaveLength(2);
    // kube-proxy's kubeproxy_sync_proxy_rules_iptables_restore_failures_total counts each.
    expect(restoreFailures).toBe(2);
  });

  it('runs conntrack -D for removed UDP endpoints; exit 1 (nothing found) is fine', async () => {
    const exec = new FakeNetExec()
      .on({ file: 'iptables-nft-save', result: { stdout: EMPTY_SAVE } })
      .on({ file: 'conntrack', result: { exitCode: 1 } });
    const b = new IptablesBackend({ exec, variant: 'nft' });
    const plan = { ...renderWith(b), conntrack: [{ protocol: 'udp' as const, origDst: '10.96.0.53', dstNat: '10.244.1.2' }] };
    await b.apply(plan);
    expect(exec.callsTo('conntrack')[0]!.args).toEqual(['-D', '-p', 'udp', '--orig-dst', '10.96.0.53', '--dst-nat', '10.244.1.2']);
  });

  it('keeps a failed conntrack deletion and retries it with the next apply', async () => {
    const exec = new FakeNetExec()
      .on({ file: 'iptables-nft-save', result: { stdout: EMPTY_SAVE } })
      .on({ file: 'conntrack', result: { exitCode: 2, stderr: 'boom' } });
    const b = new IptablesBackend({ exec, variant: 'nft' });
    const plan = { ...renderWith(b), conntrack: [{ protocol: 'udp' as const, origPortDst: 30053, dstNat: '10.244.1.2' }] };
    await expect(b.apply(plan)).rejects.toThrow(/conntrack cleanup failed/);
    exec.on({ file: 'conntrack', result: { exitCode: 0 } });
    await b.apply({ ...plan, conntrack: [] });
    expect(exec.callsTo('conntrack')).toHaveLength(2);
  });

  it.each([
    { name: 'legacy holds more KUBE rules', legacy: 5, nft: 1, want: 'legacy' },
    { name: 'nft holds more', legacy: 0, nft: 3, want: 'nft' },
    { name: 'tie: nft by default', legacy: 0, nft: 0, want: 'nft' },
  ])('auto-detects the variant: $name', async ({ legacy, nft, want }) => {
    const rules = (n: number) => Array.from({ length: n }, (_, i) => `-A KUBE-SERVICES -j KUBE-SVC-${i}`).join('\n');
    const exec = new FakeNetExec()
      .on({ file: 'iptables-legacy-save', result: { stdout: rules(legacy) } })
      .on({ file: 'iptables-nft-save', result: { stdout: rules(nft) } });
    expect(await new IptablesBackend({ exec }).variant()).toBe(want);
  });

  it.each([
    { name: 'in sync', edit: (s: string) => s, drift: false },
    { name: 'KUBE-SERVICES flushed by hand', edit: (s: string) => s.replace(/^-A KUBE-SERVICES .*$/gm, ''), drift: true },
    { name: 'a SEP chain deleted', edit: (s: string) => s.replace(/^:KUBE-SEP-.*$/gm, ''), drift: true },
    { name: 'jump rule deleted', edit: (s: string) => s.replace(/^-A PREROUTING .*$/gm, ''), drift: true },
    { name: 'a foreign rule added elsewhere', edit: (s: string) => s.replace('*filter', '*filter\n-A INPUT -j ACCEPT'), drift: false },
  ])('detects drift: $name', async ({ edit, drift }) => {
    const exec = new FakeNetExec().on({ file: 'iptables-nft-save', result: { stdout: EMPTY_SAVE } });
    const b = new IptablesBackend({ exec, variant: 'nft' });
    const p = renderWith(b);
    await b.apply(p);
    exec.on({ file: 'iptables-nft-save', result: { stdout: edit(saveOf(p)) } });
    expect(await b.detectDrift(p)).toBe(drift);
  });

  it('cleanup removes KUBE chains and jumps to them, nothing else', () => {
    const saved = parseSave(
      [
        '*nat',
        ':PREROUTING ACCEPT [0:0]',
        ':MY-CHAIN - [0:0]',
        ':KUBE-SERVICES - [0:0]',
        '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        '-A PREROUTING -j MY-CHAIN',
        '-A MY-CHAIN -j RETURN',
        'COMMIT',
        '*filter',
        ':INPUT ACCEPT [0:0]',
        '-A INPUT -j ACCEPT',
        'COMMIT',
      ].join('\n'),
    );
    const text = cleanupText(saved);
    expect(text).toBe(
      [
        '*nat',
        ':KUBE-SERVICES - [0:0]',
        '-D PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        '-X KUBE-SERVICES',
        'COMMIT',
        '',
      ].join('\n'),
    );
  });
});
