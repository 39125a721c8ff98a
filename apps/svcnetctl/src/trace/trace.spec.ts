import { describe, expect, it } from 'vitest';
import type { EndpointAddress } from '@svcnet/model';
import { address, endpoints, port, service } from '../test-builders.js';
import { parseDestination } from '../commands/trace.js';
import { formatTrace } from './format-trace.js';
import { traceDestination, type TraceQuery } from './trace.js';

function onPod(a: EndpointAddress, name: string, node: string): EndpointAddress {
  return { ...a, nodeName: node, podRef: { kind: 'Pod', namespace: 'default', name, uid: '' } };
}

const web = service({
  name: 'web',
  spec: {
    type: 'NodePort',
    clusterIP: '10.96.0.50',
    clusterIPs: ['10.96.0.50'],
    ports: [port({ name: 'http', port: 80, targetPort: 'http', nodePort: 30080 })],
    externalTrafficPolicy: 'Local',
  },
});
const webEndpoints = endpoints({
  name: 'web',
  subsets: [
    {
      addresses: [onPod(address('10.244.1.5'), 'web-a', 'node-1'), onPod(address('10.244.2.6'), 'web-b', 'node-2')],
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    },
    { addresses: [onPod(address('10.244.2.7', false), 'web-c', 'node-2')], ports: [{ name: 'http', port: 8081, protocol: 'TCP' }] },
  ],
});
const empty = service({ name: 'empty', spec: { clusterIP: '10.96.0.60', clusterIPs: ['10.96.0.60'], ports: [port({ port: 53, protocol: 'UDP' })] } });
const headless = service({ name: 'db', spec: { clusterIP: 'None', clusterIPs: ['None'], ports: [port({ port: 5432 })] } });

describe('traceDestination + formatTrace', () => {
  const cases: { name: string; q: TraceQuery; want: string }[] = [
    {
      name: 'cluster IP: every ready endpoint, named target port resolved per subset',
      q: { ip: '10.96.0.50', port: 80, protocol: 'TCP' },
      want: [
        'Destination:              10.96.0.50:80/TCP',
        'Service:                  default/web (NodePort, via cluster IP)',
        'Port:                     http 80/TCP -> http',
        'Session Affinity:         None',
        'Internal Traffic Policy:  Cluster',
        'Verdict:                  DNAT to one of 2 ready endpoint(s) (each ~50%)',
        'Endpoints:',
        '  ENDPOINT          STATE       POD             NODE',
        '  10.244.1.5:8080   ready       default/web-a   node-1',
        '  10.244.2.6:8080   ready       default/web-b   node-2',
        '  10.244.2.7:8081   not ready   default/web-c   node-2',
        '',
      ].join('\n'),
    },
    {
      name: 'node port with externalTrafficPolicy Local: only the entry node’s endpoints',
      q: { ip: '192.168.1.11', port: 30080, protocol: 'TCP', node: 'node-1' },
      want: [
        'Destination:              192.168.1.11:30080/TCP',
        'Service:                  default/web (NodePort, via node port)',
        'Port:                     http 80/TCP -> http',
        'Session Affinity:         None',
        'External Traffic Policy:  Local (entering on node node-1)',
        'Verdict:                  DNAT to one of 1 ready endpoint(s) (each ~100%)',
        'Endpoints:',
        '  ENDPOINT          STATE               POD             NODE',
        '  10.244.1.5:8080   ready               default/web-a   node-1',
        '  10.244.2.6:8080   ready, other node   default/web-b   node-2',
        '  10.244.2.7:8081   not ready           default/web-c   node-2',
        '',
      ].join('\n'),
    },
    {
      name: 'no endpoints: kube-proxy rejects',
      q: { ip: '10.96.0.60', port: 53, protocol: 'UDP' },
      want: [
        'Destination:              10.96.0.60:53/UDP',
        'Service:                  default/empty (ClusterIP, via cluster IP)',
        'Port:                     <unset> 53/UDP -> 53',
        'Session Affinity:         None',
        'Internal Traffic Policy:  Cluster',
        'Verdict:                  REJECT: no ready endpoints (kube-proxy answers with ICMP port unreachable / TCP reset)',
        '',
      ].join('\n'),
    },
    {
      name: 'wrong protocol: not intercepted',
      q: { ip: '10.96.0.60', port: 53, protocol: 'TCP' },
      want: [
        'Destination:  10.96.0.60:53/TCP',
        'Service:      <none> (no service IP or node port matches: not intercepted)',
        '',
      ].join('\n'),
    },
  ];
  it.each(cases)('$name', ({ q, want }) => {
    expect(formatTrace(traceDestination([web, empty, headless], [webEndpoints], q))).toBe(want);
  });

  it('headless services have no virtual IP to trace', () => {
    // A headless service's "IP" is None; nothing matches a real address.
    expect(traceDestination([headless], [], { ip: '10.96.0.70', port: 5432, protocol: 'TCP' }).kind).toBe('none');
  });
});

describe('parseDestination', () => {
  const ok: { name: string; text: string; flag?: string; want: TraceQuery }[] = [
    { name: 'IPv4 with default TCP', text: '10.96.0.1:443', want: { ip: '10.96.0.1', port: 443, protocol: 'TCP' } },
    { name: 'protocol suffix, any case', text: '10.96.0.10:53/udp', want: { ip: '10.96.0.10', port: 53, protocol: 'UDP' } },
    { name: 'protocol flag', text: '10.96.0.10:53', flag: 'SCTP', want: { ip: '10.96.0.10', port: 53, protocol: 'SCTP' } },
    { name: 'bracketed IPv6', text: '[fd00::10]:80', want: { ip: 'fd00::10', port: 80, protocol: 'TCP' } },
  ];
  it.each(ok)('$name', ({ text, flag, want }) => {
    expect(parseDestination(text, flag)).toEqual(want);
  });
  const bad = ['10.0.0.1', '10.0.0.1:0', '10.0.0.1:70000', 'host:80', '10.0.0.1:80/ICMP'];
  it.each(bad)('rejects %s', (text) => {
    expect(() => parseDestination(text, undefined)).toThrow(/invalid/);
  });
});
