import { describe, expect, it } from 'vitest';
import { FakeNetExec } from '@svcnet/netexec';
import type { NftPlan } from './render.js';
import { NftablesBackend, countsOf, staleUdpFlows } from './nftables-backend.js';

const plan = (over: Partial<NftPlan> = {}): NftPlan => ({
  full: true,
  table: 'table ip svcnet {\n}\n',
  counts: { 'chain services': 2, 'map service-ips': 1 },
  udp: [],
  skipped: [],
  chains: ['nat-prerouting', 'services'],
  maps: ['service-ips'],
  sets: {},
  ...over,
});

describe('NftablesBackend', () => {
  it('replaces the table in one nft transaction', async () => {
    const exec = new FakeNetExec();
    const b = new NftablesBackend({ exec, netns: 'n1' });
    const r = await b.apply(plan());
    expect(r.calls).toBe(1);
    expect(exec.calls[0]).toMatchObject({ file: 'nft', args: ['-f', '-'], netns: 'n1' });
    expect(exec.calls[0]!.input).toBe('add table ip svcnet\ndelete table ip svcnet\ntable ip svcnet {\n}\n');
  });

  it('later syncs keep the table and its sets: flush rules and maps, drop what is gone, declare the new table', async () => {
    const exec = new FakeNetExec();
    const b = new NftablesBackend({ exec });
    const aff = '\tset aff-A {\n\t\ttype ipv4_addr\n\t\tflags dynamic,timeout\n\t\ttimeout 600s\n\t}';
    await b.apply(plan({ chains: ['services', 'svc-OLD', 'svc-KEEP'], sets: { 'aff-A': aff, 'aff-B': aff } }));
    await b.apply(plan({ full: false, chains: ['services', 'svc-KEEP', 'svc-NEW'], sets: { 'aff-A': aff, 'aff-B': aff.replace('600s', '60s') } }));
    expect(exec.calls[1]!.input).toBe(
      [
        'add table ip svcnet',
        'flush table ip svcnet',
        'flush map ip svcnet service-ips',
        'delete chain ip svcnet svc-OLD',
        'delete set ip svcnet aff-B',
        'table ip svcnet {',
        '}',
        '',
      ].join('\n'),
    );
    // A full sync (and the first apply after a failure) replaces the table whole.
    await b.apply(plan({ full: true }));
    expect(String(exec.calls[2]!.input).startsWith('add table ip svcnet\ndelete table ip svcnet\n')).toBe(true);
  });

  it('deletes UDP conntrack entries of endpoints that went away (not on the first apply)', async () => {
    const exec = new FakeNetExec();
    const b = new NftablesBackend({ exec });
    await b.apply(plan({ udp: [{ origDst: '10.96.0.53', endpoints: ['10.244.1.3', '10.244.2.3'] }] }));
    expect(exec.callsTo('conntrack')).toEqual([]);
    await b.apply(plan({ udp: [{ origDst: '10.96.0.53', endpoints: ['10.244.2.3'] }] }));
    expect(exec.callsTo('conntrack').map((c) => c.args.join(' '))).toEqual(['-D -p udp --orig-dst 10.96.0.53 --dst-nat 10.244.1.3']);
  });

  it('turns a failed nft run into BackendApplyError', async () => {
    const exec = new FakeNetExec().on({ file: 'nft', fail: { exitCode: 1, stderr: 'Error: syntax error' } });
    await expect(new NftablesBackend({ exec }).apply(plan())).rejects.toThrow(/nftables apply failed/);
  });

  it('sees drift when a chain lost rules or the table is gone, not otherwise', async () => {
    const json = (rules: number) =>
      JSON.stringify({
        nftables: [
          { metainfo: {} },
          { chain: { name: 'services' } },
          ...Array.from({ length: rules }, () => ({ rule: { chain: 'services' } })),
          { map: { name: 'service-ips', elem: [[1]] } },
          { set: { name: 'aff-ABC', elem: [1, 2, 3] } },
        ],
      });
    const same = new FakeNetExec().on({ file: 'nft', result: { stdout: json(2) } });
    expect(await new NftablesBackend({ exec: same }).detectDrift(plan())).toBe(false);
    const flushed = new FakeNetExec().on({ file: 'nft', result: { stdout: json(0) } });
    expect(await new NftablesBackend({ exec: flushed }).detectDrift(plan())).toBe(true);
    const gone = new FakeNetExec().on({ file: 'nft', fail: { exitCode: 1, stderr: 'No such file or directory' } });
    expect(await new NftablesBackend({ exec: gone }).detectDrift(plan())).toBe(true);
  });

  it('cleanup deletes the table only when it exists', async () => {
    const none = new FakeNetExec().on({ file: 'nft', fail: { exitCode: 1, stderr: 'No such file or directory' } });
    await new NftablesBackend({ exec: none }).cleanup();
    expect(none.callsTo('nft').map((c) => c.args.join(' '))).toEqual(['list table ip svcnet']);
    const some = new FakeNetExec();
    await new NftablesBackend({ exec: some }).cleanup();
    expect(some.callsTo('nft').map((c) => c.args.join(' '))).toEqual(['list table ip svcnet', 'delete table ip svcnet']);
  });
});

describe('countsOf / staleUdpFlows', () => {
  it('counts rules per chain, map elements, and ignores affinity sets', () => {
    expect(countsOf('{"nftables":[{"chain":{"name":"a"}},{"rule":{"chain":"a"}},{"map":{"name":"m"}},{"set":{"name":"aff-X","elem":[1]}}]}')).toEqual({
      'chain a': 1,
      'map m': 0,
    });
    expect(countsOf('not json')).toBeUndefined();
  });

  it('lists (destination, endpoint) pairs that are gone, including whole destinations', () => {
    expect(
      staleUdpFlows(
        [
          { origDst: '10.96.0.53', endpoints: ['a', 'b'] },
          { origDst: '', origPortDst: 30053, endpoints: ['a'] },
        ],
        [{ origDst: '10.96.0.53', endpoints: ['b'] }],
      ),
    ).toEqual([
      { origDst: '10.96.0.53', endpoint: 'a' },
      { origDst: '', origPortDst: 30053, endpoint: 'a' },
    ]);
  });
});
