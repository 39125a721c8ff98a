import { describe, expect, it } from 'vitest';
import { buildEndpoint, buildProxyState, buildServicePort } from '@svcnet/proxy-core/testing';
import type { EndpointInfo, NodeConfig, ServicePortInfo } from '@svcnet/proxy-core';
import { setsOf } from './plan-views.js';
import { renderNftPlan, type NftPlan } from './render.js';
import { staleUdpFlows, staleUdpFlowsBetween, updateScript } from './update-script.js';

const config: NodeConfig = { nodeName: 'node1', nodeIPs: ['192.168.77.11'], clusterCIDR: '10.244.0.0/16', masqueradeAll: false, nodePortAddresses: [] };
const svc = (name: string, clusterIP: string, over: Partial<ServicePortInfo> = {}): ServicePortInfo => buildServicePort({ name, clusterIP, port: 80, ...over });
const ep = (ip: string): EndpointInfo => buildEndpoint(ip, 8080, { nodeName: 'node2' });
type Entries = ReadonlyArray<readonly [ServicePortInfo, EndpointInfo[]]>;
const full = (entries: Entries, c = config) => renderNftPlan({ state: buildProxyState(entries), config: c, full: true });
/** The next plan as a partial sync renders it: only `changed` re-rendered. */
const next = (last: NftPlan, entries: Entries, changed: string[]) => renderNftPlan({ state: buildProxyState(entries), config, full: false, lastApplied: last, changed: new Set(changed) });

const a = svc('a', '10.96.0.10');
const b = svc('b', '10.96.0.11');
const base = full([
  [a, [ep('10.244.1.2')]],
  [b, [ep('10.244.1.3'), ep('10.244.1.4')]],
]);

describe('updateScript', () => {
  it.each<{ name: string; entries: Entries; changed: string[]; lines: string[] }>([
    {
      name: 'an endpoint replaced: one element out, one in; nothing about other services, no chain',
      entries: [
        [a, [ep('10.244.1.2')]],
        [b, [ep('10.244.1.3'), ep('10.244.1.5')]],
      ],
      changed: ['default/b:'],
      lines: [
        'add table ip svcnet',
        'delete element ip svcnet cluster-endpoints-tcp { 10.96.0.11 . 80 . 1 }',
        'add element ip svcnet cluster-endpoints-tcp { 10.96.0.11 . 80 . 1 comment "default/b:" : 10.244.1.5 . 8080 }',
      ],
    },
    {
      name: 'a service added with an endpoint count in use: elements only',
      entries: [
        [a, [ep('10.244.1.2')]],
        [b, [ep('10.244.1.3'), ep('10.244.1.4')]],
        [svc('c', '10.96.0.12'), [ep('10.244.1.6')]],
      ],
      changed: ['default/c:'],
      lines: [
        'add table ip svcnet',
        'add element ip svcnet service-ips { 10.96.0.12 . tcp . 80 comment "default/c:" : goto cluster-tcp-1 }',
        'add element ip svcnet cluster-endpoints-tcp { 10.96.0.12 . 80 . 0 comment "default/c:" : 10.244.1.6 . 8080 }',
        'add element ip svcnet cluster-ips { 10.96.0.12 comment "default/c:" }',
      ],
    },
    {
      name: 'a new endpoint count: its pick chain first; the count no longer used: its chain last',
      entries: [
        [a, [ep('10.244.1.2'), ep('10.244.1.7'), ep('10.244.1.8')]],
        [b, [ep('10.244.1.3'), ep('10.244.1.4')]],
      ],
      changed: ['default/a:'],
      lines: [
        'add table ip svcnet',
        'add chain ip svcnet cluster-tcp-3',
        'add rule ip svcnet cluster-tcp-3 ip saddr != 10.244.0.0/16 jump mark-for-masquerade',
        'add rule ip svcnet cluster-tcp-3 meta l4proto tcp dnat ip to ip daddr . th dport . numgen random mod 3 map @cluster-endpoints-tcp',
        'delete element ip svcnet service-ips { 10.96.0.10 . tcp . 80 }',
        'add element ip svcnet service-ips { 10.96.0.10 . tcp . 80 comment "default/a:" : goto cluster-tcp-3 }',
        'add element ip svcnet cluster-endpoints-tcp { 10.96.0.10 . 80 . 1 comment "default/a:" : 10.244.1.7 . 8080, 10.96.0.10 . 80 . 2 comment "default/a:" : 10.244.1.8 . 8080 }',
        'flush chain ip svcnet cluster-tcp-1',
        'delete chain ip svcnet cluster-tcp-1',
      ],
    },
    {
      name: 'a service losing its endpoints: its key moves to the no-endpoint map',
      entries: [
        [a, []],
        [b, [ep('10.244.1.3'), ep('10.244.1.4')]],
      ],
      changed: ['default/a:'],
      lines: [
        'add table ip svcnet',
        'delete element ip svcnet service-ips { 10.96.0.10 . tcp . 80 }',
        'delete element ip svcnet cluster-endpoints-tcp { 10.96.0.10 . 80 . 0 }',
        'add element ip svcnet no-endpoint-services { 10.96.0.10 . tcp . 80 comment "default/a:" : goto reject-service }',
        'flush chain ip svcnet cluster-tcp-1',
        'delete chain ip svcnet cluster-tcp-1',
      ],
    },
    {
      name: 'a service deleted',
      entries: [[a, [ep('10.244.1.2')]]],
      changed: ['default/b:'],
      lines: [
        'add table ip svcnet',
        'delete element ip svcnet service-ips { 10.96.0.11 . tcp . 80 }',
        'delete element ip svcnet cluster-endpoints-tcp { 10.96.0.11 . 80 . 0, 10.96.0.11 . 80 . 1 }',
        'delete element ip svcnet cluster-ips { 10.96.0.11 }',
        'flush chain ip svcnet cluster-tcp-2',
        'delete chain ip svcnet cluster-tcp-2',
      ],
    },
  ])('$name', ({ entries, changed, lines }) => {
    const plan = next(base, entries, changed);
    expect(updateScript(base, plan).split('\n').slice(0, -1)).toEqual(lines);
    // The same difference found without the delta (two independent renders).
    expect(updateScript(base, full(entries)).split('\n').slice(0, -1).sort()).toEqual([...lines].sort());
  });

  it('nothing changed: no script at all', () => {
    expect(updateScript(base, next(base, [[a, [ep('10.244.1.2')]], [b, [ep('10.244.1.3'), ep('10.244.1.4')]]], ['default/a:']))).toBe('');
  });

  it('affinity sets come and go by name: added before the rules that use them, deleted after', () => {
    const s = svc('s', '10.96.0.20', { sessionAffinity: { kind: 'ClientIP', timeoutSeconds: 600 } });
    const withEps = full([[s, [ep('10.244.1.2')]]]);
    const [affSet] = [...setsOf(withEps).keys()];
    const none = updateScript(withEps, next(withEps, [[s, []]], ['default/s:'])).split('\n');
    expect(none).toContain(`delete set ip svcnet ${affSet}`);
    expect(none.indexOf(`delete set ip svcnet ${affSet}`)).toBeGreaterThan(Math.max(...none.map((l, i) => (l.startsWith('delete chain') ? i : -1))));
    // A new timeout is a new set (a set cannot be redefined in place), added before the rules that use it.
    const retimed = next(withEps, [[{ ...s, sessionAffinity: { kind: 'ClientIP', timeoutSeconds: 60 } }, [ep('10.244.1.2')]]], ['default/s:']);
    const [newSet] = [...setsOf(retimed).keys()];
    expect(newSet).not.toBe(affSet);
    const lines = updateScript(withEps, retimed).split('\n');
    const added = lines.indexOf(`add set ip svcnet ${newSet} { type ipv4_addr; flags dynamic,timeout; timeout 60s; }`);
    expect(added).toBeGreaterThan(0);
    expect(added).toBeLessThan(lines.findIndex((l) => l.includes(`@${newSet}`)));
    expect(lines.filter((l) => l.startsWith('flush chain'))).toHaveLength(1);
    expect(lines.at(-2)).toBe(`delete set ip svcnet ${affSet}`);
  });

  it('another --nodeport-addresses (a node setting) falls back to a replace', () => {
    const after = renderNftPlan({ state: buildProxyState([[a, [ep('10.244.1.2')]]]), config: { ...config, nodePortAddresses: ['192.168.77.0/24'] }, full: false });
    expect(updateScript(base, after)).toMatch(/^add table ip svcnet\ndelete table ip svcnet\n/);
  });
});

describe('staleUdpFlows', () => {
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

  it('between two plans: only the changed service ports are looked at', () => {
    const dns = svc('dns', '10.96.0.53', { protocol: 'UDP', port: 53, nodePort: 30053 });
    const before = full([[dns, [ep('10.244.1.2'), ep('10.244.1.3')]]]);
    const after = next(before, [[dns, [ep('10.244.1.3')]]], ['default/dns:']);
    expect(staleUdpFlowsBetween(before, after)).toEqual([
      { origDst: '10.96.0.53', endpoint: '10.244.1.2' },
      { origDst: '', origPortDst: 30053, endpoint: '10.244.1.2' },
    ]);
  });
});
