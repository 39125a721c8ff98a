import { buildEndpoints, buildService } from '@svcnet/proxy-core/testing';
import type { ProxyState, ServicePortInfo } from '@svcnet/proxy-core';
import type { Endpoints, Service } from '@svcnet/model';
import { describe, expect, it } from 'vitest';
import { serviceChainNames } from './names.js';
import { describePlan } from './plan.js';
import type { IptablesPlan } from './plan.js';
import { masqueradeMark, renderIptablesPlan, sectionText } from './render.js';
import { NODE, stateOf } from './test-fixtures.js';

function render(state: ProxyState, last?: IptablesPlan, changed: string[] = [], full = false): IptablesPlan {
  return renderIptablesPlan({ state, config: NODE, full: full || last === undefined, changed: new Set(changed), lastApplied: last });
}

const svc = (name: string, ip: string, extra: Partial<Parameters<typeof buildService>[0]> = {}): Service =>
  buildService({ name, clusterIP: ip, ...extra });
const eps = (name: string, ...ips: string[]): Endpoints => buildEndpoints({ name, addresses: ips.map((ip) => `${ip}@n1`) });
const chainOf = (name: string) => serviceChainNames({ namespace: 'default', name, portName: '', protocol: 'TCP' }).svc;

describe('renderIptablesPlan', () => {
  it('a full sync declares every chain and writes one restore input for nat and filter', () => {
    const p = render(stateOf([svc('a', '10.96.0.1')], [eps('a', '10.244.1.2')]));
    expect(p.restore.match(/^\*nat$/gm)).toHaveLength(1);
    expect(p.restore.match(/^\*filter$/gm)).toHaveLength(1);
    expect(p.restore.match(/^COMMIT$/gm)).toHaveLength(2);
    expect(p.writtenChains).toBe(p.nat.size + p.filter.size);
    expect(p.restore).toContain(`:${chainOf('a')} - [0:0]`);
  });

  it('a partial sync writes only the changed service, edits KUBE-SERVICES in place and deletes stale chains', () => {
    const s1 = stateOf([svc('a', '10.96.0.1'), svc('b', '10.96.0.2')], [eps('a', '10.244.1.2'), eps('b', '10.244.1.3', '10.244.1.4')]);
    const p1 = render(s1);
    const s2 = stateOf([svc('a', '10.96.0.1'), svc('c', '10.96.0.3')], [eps('a', '10.244.1.2'), eps('c', '10.244.1.5')]);
    const p2 = render(s2, p1, ['default/b:', 'default/c:']);
    const lines = p2.restore.split('\n');
    expect(lines).not.toContain(`:${chainOf('a')} - [0:0]`);
    expect(lines).toContain(`:${chainOf('c')} - [0:0]`);
    expect(lines).toContain(`:${chainOf('b')} - [0:0]`);
    expect(lines).toContain(`-X ${chainOf('b')}`);
    expect(lines.filter((l) => l.startsWith('-X KUBE-SEP-'))).toHaveLength(2);
    expect(lines).not.toContain(':KUBE-SERVICES - [0:0]');
    expect(lines.filter((l) => l.startsWith('-D KUBE-SERVICES'))).toHaveLength(1);
    expect(lines.filter((l) => l.startsWith('-I KUBE-SERVICES 1 '))).toHaveLength(1);
    expect(p2.deletedChains).toContain(`nat/${chainOf('b')}`);
    // The unchanged service's fragment is the same object: no re-render.
    expect(p2.fragments.get('default/a:')).toBe(p1.fragments.get('default/a:'));
  });

  it('declares chains before deleting them and deletes after all rule edits (restore requires it)', () => {
    const p1 = render(stateOf([svc('b', '10.96.0.2')], [eps('b', '10.244.1.3')]));
    const p2 = render(stateOf([], []), p1, ['default/b:']);
    const lines = p2.restore.split('\n');
    const x = lines.indexOf(`-X ${chainOf('b')}`);
    expect(lines.indexOf(`:${chainOf('b')} - [0:0]`)).toBeLessThan(x);
    expect(lines.findIndex((l) => l.startsWith('-D KUBE-SERVICES'))).toBeLessThan(x);
  });

  it('nothing changed: empty restore input', () => {
    const s = stateOf([svc('a', '10.96.0.1')], [eps('a', '10.244.1.2')]);
    const p1 = render(s);
    expect(render(s, p1, []).restore).toBe('');
  });

  it('a full sync after a partial one still deletes what the last plan had', () => {
    const p1 = render(stateOf([svc('b', '10.96.0.2')], [eps('b', '10.244.1.3')]));
    const p2 = render(stateOf([], []), p1, [], true);
    expect(p2.restore).toContain(`-X ${chainOf('b')}`);
    expect(p2.restore).toContain(':KUBE-SERVICES - [0:0]');
  });

  it('an endpoint change rewrites the SVC chain and keeps KUBE-SERVICES untouched', () => {
    const p1 = render(stateOf([svc('a', '10.96.0.1')], [eps('a', '10.244.1.2')]));
    const p2 = render(stateOf([svc('a', '10.96.0.1')], [eps('a', '10.244.1.2', '10.244.1.3')]), p1, ['default/a:']);
    expect(p2.restore).toContain(`:${chainOf('a')} - [0:0]`);
    expect(p2.restore).not.toContain('KUBE-SERVICES');
  });

  it('skips services that would inject into rule text and reports them', () => {
    const state = stateOf([svc('ok', '10.96.0.1')], [eps('ok', '10.244.1.2')]);
    const evil: ServicePortInfo = { ...state.services.get('default/ok:')!, id: 'x', name: 'a" -j ACCEPT\n-A INPUT -j DROP' };
    const services = new Map(state.services).set('x', evil);
    const p = render({ services, endpoints: state.endpoints });
    expect(p.rejected).toEqual([{ id: 'x', reason: 'name is not a DNS label' }]);
    expect(p.restore).not.toContain('INPUT');
    expect(p.restore.split('\n').every((l) => !l.includes('"') || /^-A \S+ .*--comment "[A-Za-z0-9 ./:;,_>-]*"/.test(l))).toBe(true);
  });

  it('drops endpoints with crafted addresses', () => {
    const state = stateOf([svc('a', '10.96.0.1')], []);
    const endpoints = new Map([
      ['default/a:', [{ ip: '10.244.1.2 -j ACCEPT', port: 80, nodeName: 'n1', isLocal: true, ready: true, serving: true, terminating: false }]],
    ]);
    const p = render({ services: state.services, endpoints });
    expect(p.restore).not.toContain('10.244.1.2');
    expect(p.restore).toContain('has no endpoints');
  });

  it.each([
    { name: 'bad cluster CIDR', config: { clusterCIDR: '10.0.0.0/8 -j ACCEPT' } },
    { name: 'bad node port address', config: { nodePortAddresses: ['0/0'] } },
  ])('refuses invalid node config: $name', ({ config }) => {
    expect(() =>
      renderIptablesPlan({ state: stateOf([], []), config: { ...NODE, ...config }, full: true, changed: new Set(), lastApplied: undefined }),
    ).toThrow(/not an IPv4 CIDR/);
  });

  it('lists UDP conntrack deletions for removed endpoints and for a first endpoint', () => {
    const dns = (...ips: string[]) =>
      buildEndpoints({ name: 'dns', addresses: ips.map((ip) => `${ip}@n1`), ports: [{ port: 53, protocol: 'UDP' }] });
    const service = svc('dns', '10.96.0.53', { type: 'NodePort', ports: [{ port: 53, protocol: 'UDP', nodePort: 30053 }] });
    const p0 = render(stateOf([service], []));
    const p1 = render(stateOf([service], [dns('10.244.1.2', '10.244.1.3')]), p0, ['default/dns:']);
    expect(p1.conntrack).toEqual([{ protocol: 'udp', origDst: '10.96.0.53' }]);
    const p2 = render(stateOf([service], [dns('10.244.1.3')]), p1, ['default/dns:']);
    expect(p2.conntrack).toEqual([
      { protocol: 'udp', origDst: '10.96.0.53', dstNat: '10.244.1.2' },
      { protocol: 'udp', origPortDst: 30053, dstNat: '10.244.1.2' },
    ]);
    const tcp = render(stateOf([svc('a', '10.96.0.1')], [eps('a', '10.244.1.2')]));
    expect(render(stateOf([svc('a', '10.96.0.1')], []), tcp, ['default/a:']).conntrack).toEqual([]);
  });

  it.each([
    { bit: 14, mark: '0x4000' },
    { bit: 0, mark: '0x1' },
    { bit: 31, mark: '0x80000000' },
  ])('masquerade bit $bit → mark $mark', ({ bit, mark }) => {
    expect(masqueradeMark(bit)).toBe(mark);
  });
});

describe('sectionText', () => {
  it('handles a full sync of ~300k rule lines (no argument-spread limits)', () => {
    const rules = Array.from({ length: 300_000 }, (_, i) => `-A KUBE-SEP-X -j KUBE-MARK-MASQ ${i}`);
    const text = sectionText('nat', { declare: ['KUBE-SEP-X'], rules: [rules], edits: [], deleteChains: [] });
    expect(text.split('\n')).toHaveLength(300_000 + 4);
  });
});

describe('describePlan', () => {
  it('lists refused services as comments before the rules', () => {
    const state = stateOf([svc('ok', '10.96.0.1')], []);
    const bad: ServicePortInfo = { ...state.services.get('default/ok:')!, id: 'default/bad:', clusterIP: '10.0.0.1/0' };
    const p = render({ services: new Map(state.services).set('default/bad:', bad), endpoints: state.endpoints });
    expect(describePlan(p).split('\n')[0]).toBe('# rejected default/bad:: cluster IP is not an IPv4 address');
  });
});
