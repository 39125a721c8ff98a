import { describe, expect, it } from 'vitest';
import { address, endpoints, pod, port, service, T0 } from '../test-builders.js';
import { describeEndpoints, describePod, describeService } from './describe.js';

const redis = service({
  name: 'redis-service',
  spec: {
    clusterIP: '10.96.0.10',
    clusterIPs: ['10.96.0.10'],
    ports: [port({ port: 6379, targetPort: 6379 })],
    selector: { tier: 'cache', app: 'redis' },
  },
});
const redisEndpoints = endpoints({
  name: 'redis-service',
  subsets: [
    {
      addresses: [address('10.244.1.5'), address('10.244.1.6'), address('10.244.2.9', false)],
      ports: [{ name: '', port: 6379, protocol: 'TCP' }],
    },
  ],
});
const web = service({
  name: 'web',
  namespace: 'shop',
  labels: { team: 'shop', app: 'web' },
  spec: {
    type: 'NodePort',
    clusterIP: '10.96.12.34',
    clusterIPs: ['10.96.12.34'],
    ipFamilies: ['IPv4'],
    ports: [
      port({ name: 'http', port: 80, targetPort: 'http', nodePort: 30080 }),
      port({ name: 'https', port: 443, targetPort: 8443, nodePort: 30443 }),
    ],
    selector: { app: 'web' },
    sessionAffinity: 'ClientIP',
    sessionAffinityTimeoutSeconds: 600,
    externalTrafficPolicy: 'Local',
  },
});
const webEndpoints = endpoints({
  name: 'web',
  namespace: 'shop',
  subsets: [{ addresses: [address('10.244.1.7')], ports: [{ name: 'http', port: 8080, protocol: 'TCP' }] }],
});

describe('describeService', () => {
  const cases: { name: string; svc: typeof redis; eps: typeof redisEndpoints | undefined; want: string }[] = [
    {
      name: 'ClusterIP service: ready endpoints only, <unset> port name',
      svc: redis,
      eps: redisEndpoints,
      want: [
        'Name:                     redis-service',
        'Namespace:                default',
        'Labels:                   <none>',
        'Annotations:              <none>',
        'Selector:                 app=redis,tier=cache',
        'Type:                     ClusterIP',
        'IP Families:              <none>',
        'IP:                       10.96.0.10',
        'IPs:                      10.96.0.10',
        'Port:                     <unset>  6379/TCP',
        'TargetPort:               6379/TCP',
        'Endpoints:                10.244.1.5:6379,10.244.1.6:6379',
        'Session Affinity:         None',
        'Internal Traffic Policy:  Cluster',
        '',
      ].join('\n'),
    },
    {
      name: 'NodePort service: per-port groups, endpoints filtered by port name, multi-line labels',
      svc: web,
      eps: webEndpoints,
      want: [
        'Name:                     web',
        'Namespace:                shop',
        'Labels:                   app=web',
        '                          team=shop',
        'Annotations:              <none>',
        'Selector:                 app=web',
        'Type:                     NodePort',
        'IP Families:              IPv4',
        'IP:                       10.96.12.34',
        'IPs:                      10.96.12.34',
        'Port:                     http  80/TCP',
        'TargetPort:               http/TCP',
        'NodePort:                 http  30080/TCP',
        'Endpoints:                10.244.1.7:8080',
        'Port:                     https  443/TCP',
        'TargetPort:               8443/TCP',
        'NodePort:                 https  30443/TCP',
        'Endpoints:                <none>',
        'Session Affinity:         ClientIP',
        'External Traffic Policy:  Local',
        'Internal Traffic Policy:  Cluster',
        '',
      ].join('\n'),
    },
    {
      name: 'headless service without an Endpoints object',
      svc: service({ name: 'db', spec: { clusterIP: 'None', clusterIPs: ['None'], ports: [port({ name: 'pg', port: 5432 })] } }),
      eps: undefined,
      want: [
        'Name:                     db',
        'Namespace:                default',
        'Labels:                   <none>',
        'Annotations:              <none>',
        'Selector:                 <none>',
        'Type:                     ClusterIP',
        'IP Families:              <none>',
        'IP:                       None',
        'IPs:                      None',
        'Port:                     pg  5432/TCP',
        'TargetPort:               5432/TCP',
        'Endpoints:                <none>',
        'Session Affinity:         None',
        'Internal Traffic Policy:  Cluster',
        '',
      ].join('\n'),
    },
  ];
  it.each(cases)('$name', ({ svc, eps, want }) => {
    expect(describeService(svc, eps)).toBe(want);
  });
});

describe('describePod', () => {
  const cases: { name: string; p: ReturnType<typeof pod>; want: string }[] = [
    {
      name: 'ready pod with a named port',
      p: pod({
        name: 'redis',
        labels: { app: 'redis' },
        nodeName: 'node-1',
        ip: '10.244.1.5',
        created: T0,
        containerPorts: [{ name: 'redis', containerPort: 6379, protocol: 'TCP' }],
      }),
      want: [
        'Name:         redis',
        'Namespace:    default',
        'Node:         node-1',
        'Start Time:   Fri, 27 Nov 2026 02:00:00 +0000',
        'Labels:       app=redis',
        'Annotations:  <none>',
        'Status:       Running',
        'Ports:        6379/TCP (redis)',
        'IP:           10.244.1.5',
        'IPs:',
        '  IP:  10.244.1.5',
        'Conditions:',
        '  Type   Status',
        '  Ready  True',
        '',
      ].join('\n'),
    },
    {
      name: 'terminating, not ready, no IP',
      p: pod({ name: 'gone', ready: false, terminating: true }),
      want: [
        'Name:         gone',
        'Namespace:    default',
        'Node:         <none>',
        'Start Time:   <none>',
        'Labels:       <none>',
        'Annotations:  <none>',
        'Status:       Terminating',
        'Ports:        <none>',
        'IP:           <none>',
        'IPs:          <none>',
        'Conditions:',
        '  Type   Status',
        '  Ready  False',
        '',
      ].join('\n'),
    },
  ];
  it.each(cases)('$name', ({ p, want }) => {
    expect(describePod(p)).toBe(want);
  });
});

describe('describeEndpoints', () => {
  it('lists ready and not-ready addresses and a ports table', () => {
    expect(describeEndpoints(redisEndpoints)).toBe(
      [
        'Name:         redis-service',
        'Namespace:    default',
        'Labels:       <none>',
        'Annotations:  <none>',
        'Subsets:',
        '  Addresses:          10.244.1.5,10.244.1.6',
        '  NotReadyAddresses:  10.244.2.9',
        '  Ports:',
        '    Name     Port  Protocol',
        '    ----     ----  --------',
        '    <unset>  6379  TCP',
        '',
        '',
      ].join('\n'),
    );
  });
});
