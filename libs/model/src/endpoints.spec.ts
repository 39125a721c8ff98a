import { describe, expect, it } from 'vitest';
import type { Pod, Service } from './types.js';
import { computeEndpointSubsets, endpointSubsetsEqual, parseLabelSelector, resolveTargetPort } from './endpoints.js';

function svc(ports: Service['spec']['ports'], selector: Record<string, string> = { app: 'web' }): Service {
  return {
    metadata: { namespace: 'default', name: 'web', uid: 'u', labels: {}, annotations: {}, resourceVersion: 0 },
    spec: {
      type: 'ClusterIP',
      clusterIP: '10.96.0.10',
      clusterIPs: ['10.96.0.10'],
      ipFamilies: ['IPv4'],
      ports,
      selector,
      sessionAffinity: 'None',
      sessionAffinityTimeoutSeconds: 0,
      externalTrafficPolicy: 'Cluster',
      internalTrafficPolicy: 'Cluster',
      externalIPs: [],
    },
  };
}

function pod(name: string, ip: string, over: Partial<Pod> = {}, labels: Record<string, string> = { app: 'web' }): Pod {
  return {
    metadata: { namespace: 'default', name, uid: `uid-${name}`, labels, annotations: {}, resourceVersion: 0 },
    nodeName: 'node1',
    ip,
    ready: true,
    terminating: false,
    containerPorts: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
    ...over,
  };
}

const http = { name: 'http', protocol: 'TCP' as const, port: 80, targetPort: 'http', nodePort: 0 };

/** "ip:port(flags)" per address, subset by subset, to compare compactly. */
function summary(service: Service, pods: Pod[]): string[] {
  return computeEndpointSubsets(service, pods).map(
    (s) =>
      `${s.addresses.map((a) => `${a.ip}${a.ready ? '' : a.serving ? '(serving)' : '(notready)'}${a.terminating ? '(terminating)' : ''}`).join(' ')} -> ${s.ports.map((p) => `${p.name}:${p.port}/${p.protocol}`).join(' ')}`,
  );
}

describe('computeEndpointSubsets', () => {
  const cases: { name: string; service: Service; pods: Pod[]; want: string[] }[] = [
    {
      name: 'matching pods, sorted by IP, named port resolved',
      service: svc([http]),
      pods: [pod('b', '10.244.0.9'), pod('a', '10.244.0.10'), pod('other', '10.244.0.11', {}, { app: 'db' })],
      want: ['10.244.0.10 10.244.0.9 -> http:8080/TCP'],
    },
    {
      name: 'not-ready and terminating pods are kept and flagged',
      service: svc([http]),
      pods: [pod('a', '10.244.0.1', { ready: false }), pod('b', '10.244.0.2', { terminating: true })],
      want: ['10.244.0.1(notready) 10.244.0.2(serving)(terminating) -> http:8080/TCP'],
    },
    {
      name: 'numeric and defaulted target ports',
      service: svc([
        { name: 'a', protocol: 'TCP', port: 80, targetPort: 9090, nodePort: 0 },
        { name: 'b', protocol: 'UDP', port: 53, targetPort: 0, nodePort: 0 },
      ]),
      pods: [pod('a', '10.244.0.1')],
      want: ['10.244.0.1 -> a:9090/TCP b:53/UDP'],
    },
    {
      name: 'pods resolving a named port differently land in different subsets',
      service: svc([http]),
      pods: [
        pod('a', '10.244.0.1'),
        pod('b', '10.244.0.2', { containerPorts: [{ name: 'http', containerPort: 9000, protocol: 'TCP' }] }),
      ],
      want: ['10.244.0.1 -> http:8080/TCP', '10.244.0.2 -> http:9000/TCP'],
    },
    {
      name: 'a pod without the named port is skipped',
      service: svc([http]),
      pods: [pod('a', '10.244.0.1', { containerPorts: [] })],
      want: [],
    },
    { name: 'pods of another namespace are ignored', service: svc([http]), pods: [{ ...pod('a', '10.244.0.1'), metadata: { ...pod('a', '1').metadata, namespace: 'other' } }], want: [] },
    { name: 'a pod without an IP is ignored', service: svc([http]), pods: [pod('a', '')], want: [] },
    { name: 'an empty selector selects nothing', service: svc([http], {}), pods: [pod('a', '10.244.0.1')], want: [] },
    {
      name: 'the selector must match every label',
      service: svc([http], { app: 'web', tier: 'front' }),
      pods: [pod('a', '10.244.0.1'), pod('b', '10.244.0.2', {}, { app: 'web', tier: 'front' })],
      want: ['10.244.0.2 -> http:8080/TCP'],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(summary(c.service, c.pods)).toEqual(c.want);
    });
  }

  it('sets pod references and node names', () => {
    const [subset] = computeEndpointSubsets(svc([http]), [pod('a', '10.244.0.1')]);
    expect(subset?.addresses[0]).toMatchObject({
      nodeName: 'node1',
      podRef: { kind: 'Pod', namespace: 'default', name: 'a', uid: 'uid-a' },
    });
  });
});

describe('endpointSubsetsEqual', () => {
  const s = svc([http]);
  const cases = [
    { name: 'same pods in another order', a: [pod('a', '10.0.0.1'), pod('b', '10.0.0.2')], b: [pod('b', '10.0.0.2'), pod('a', '10.0.0.1')], equal: true },
    { name: 'readiness flip differs', a: [pod('a', '10.0.0.1')], b: [pod('a', '10.0.0.1', { ready: false })], equal: false },
    { name: 'a pod more differs', a: [pod('a', '10.0.0.1')], b: [pod('a', '10.0.0.1'), pod('b', '10.0.0.2')], equal: false },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(endpointSubsetsEqual(computeEndpointSubsets(s, c.a), computeEndpointSubsets(s, c.b))).toBe(c.equal);
    });
  }
});

describe('parseLabelSelector and resolveTargetPort', () => {
  const cases = [
    { name: 'empty', text: '', want: {} },
    { name: 'pairs', text: 'app=web, tier==front', want: { app: 'web', tier: 'front' } },
  ];
  for (const c of cases) it(c.name, () => expect(parseLabelSelector(c.text)).toEqual(c.want));
  it('rejects set-based selectors', () => {
    expect(() => parseLabelSelector('app in (a,b)')).toThrow(/unable to parse requirement/);
  });
  it('resolves by protocol as well as name', () => {
    expect(resolveTargetPort({ ...http, protocol: 'UDP' }, pod('a', '10.0.0.1'))).toBeUndefined();
    expect(resolveTargetPort(http, pod('a', '10.0.0.1'))).toBe(8080);
  });
});
