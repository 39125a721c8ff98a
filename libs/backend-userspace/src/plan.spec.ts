import { type EndpointInfo, type ProxyState, type ServicePortInfo } from '@svcnet/proxy-core';
import { buildServicePort } from '@svcnet/proxy-core/testing';
import { describe, expect, it } from 'vitest';
import { canonicalIPv4Cidr, renderUserspacePlan } from './plan.js';

function svc(over: Partial<ServicePortInfo> & { id: string }): ServicePortInfo {
  return buildServicePort({ name: 'web', portName: 'http', clusterIP: '10.96.0.10', port: 80, ...over });
}
function ep(ip: string, over: Partial<EndpointInfo> = {}): EndpointInfo {
  return { ip, port: 8080, nodeName: 'n1', isLocal: true, ready: true, serving: true, terminating: false, ...over };
}
const config = { nodeName: 'n1', nodeIPs: ['fd00::1', '10.0.0.1'], clusterCIDR: '', masqueradeAll: false, nodePortAddresses: [] };

describe('renderUserspacePlan', () => {
  const cases = [
    {
      name: 'ready endpoints only, sorted; terminating dropped while one is ready',
      services: [svc({ id: 'default/web:http' })],
      endpoints: [['default/web:http', [ep('10.244.0.9'), ep('10.244.0.3'), ep('10.244.0.4', { ready: false, serving: false }), ep('10.244.0.5', { ready: false, terminating: true })]]],
      want: { proxies: [{ id: 'default/web:http', endpoints: ['10.244.0.3', '10.244.0.9'], local: undefined }], skipped: [] as string[] },
    },
    {
      name: 'none ready: serving-terminating endpoints are used (KEP-1669)',
      services: [svc({ id: 'default/web:http' })],
      endpoints: [['default/web:http', [ep('10.244.0.4', { ready: false, serving: false, terminating: true }), ep('10.244.0.5', { ready: false, terminating: true })]]],
      want: { proxies: [{ id: 'default/web:http', endpoints: ['10.244.0.5'], local: undefined }], skipped: [] as string[] },
    },
    {
      name: 'internalTrafficPolicy Local: a second socket for the local endpoints',
      services: [svc({ id: 'default/web:http', internalPolicyLocal: true })],
      endpoints: [['default/web:http', [ep('10.244.0.3', { isLocal: false }), ep('10.244.0.9')]]],
      want: { proxies: [{ id: 'default/web:http', endpoints: ['10.244.0.3', '10.244.0.9'], local: ['10.244.0.9'] }], skipped: [] },
    },
    {
      name: 'SCTP and IPv6 service ports are skipped with a reason; no endpoints is still proxied',
      services: [
        svc({ id: 'default/s:sctp', protocol: 'SCTP' }),
        svc({ id: 'default/v6:', clusterIP: 'fd00::10' }),
        svc({ id: 'default/empty:', protocol: 'UDP' }),
      ],
      endpoints: [],
      want: { proxies: [{ id: 'default/empty:', endpoints: [], local: undefined }], skipped: ['default/s:sctp', 'default/v6:'] },
    },
  ] as const;
  for (const c of cases) {
    it(c.name, () => {
      const state: ProxyState = {
        services: new Map(c.services.map((s) => [s.id, s])),
        endpoints: new Map(c.endpoints as unknown as Array<[string, EndpointInfo[]]>),
      };
      const plan = renderUserspacePlan({ state, config, full: true }, '0.0.0.0');
      expect(plan.hostPortalIP).toBe('10.0.0.1');
      expect(plan.proxies.map((p) => ({ id: p.id, endpoints: p.endpoints.map((e) => e.host), local: p.localEndpoints?.map((e) => e.host) }))).toEqual(c.want.proxies);
      expect(plan.skipped.map((s) => s.id)).toEqual(c.want.skipped);
    });
  }

  it('falls back to 127.0.0.1 for node traffic when the node has no IPv4 address', () => {
    const plan = renderUserspacePlan({ state: { services: new Map(), endpoints: new Map() }, config: { ...config, nodeIPs: [] }, full: false }, '0.0.0.0');
    expect(plan.hostPortalIP).toBe('127.0.0.1');
  });
});

describe('canonicalIPv4Cidr (as iptables-save prints it)', () => {
  it.each([
    ['192.168.77.11/32', '192.168.77.11/32'],
    ['10.1.2.3/8', '10.0.0.0/8'],
    ['172.16.255.1/12', '172.16.0.0/12'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['255.255.255.255/31', '255.255.255.254/31'],
    ['fd00::/64', undefined],
    ['10.0.0.0/33', undefined],
    ['10.0.0.256/8', undefined],
    ['10.0.0.0', undefined],
  ])('%s → %s', (input, want) => {
    expect(canonicalIPv4Cidr(input)).toBe(want);
  });
});
