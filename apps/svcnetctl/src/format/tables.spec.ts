import { describe, expect, it } from 'vitest';
import { address, at, endpoints, pod, port, service, T0 } from '../test-builders.js';
import { endpointsTable, podsTable, servicesTable, type TableOptions } from './tables.js';

const now = at(3 * 86400);
const plain: TableOptions = { allNamespaces: false, wide: false, showLabels: false, now };

const kubernetes = service({
  name: 'kubernetes',
  created: T0,
  labels: { component: 'apiserver', provider: 'kubernetes' },
  spec: { clusterIP: '10.96.0.1', clusterIPs: ['10.96.0.1'], ports: [port({ name: 'https', port: 443, targetPort: 6443 })] },
});
const redis = service({
  name: 'redis-service',
  created: at(3 * 86400 - 5),
  spec: {
    clusterIP: '10.96.0.10',
    clusterIPs: ['10.96.0.10'],
    ports: [port({ port: 6379, targetPort: 6379 })],
    selector: { app: 'redis', tier: 'cache' },
  },
});
const web = service({
  name: 'web',
  namespace: 'shop',
  created: at(3 * 86400 - 150),
  spec: {
    type: 'NodePort',
    clusterIP: '10.96.12.34',
    clusterIPs: ['10.96.12.34'],
    ports: [port({ name: 'http', port: 80, nodePort: 30080 }), port({ name: 'https', port: 443, nodePort: 30443 })],
    selector: { app: 'web' },
  },
});
const headless = service({
  name: 'db',
  created: at(3 * 86400 - 4 * 3600),
  spec: { clusterIP: 'None', clusterIPs: ['None'], ports: [port({ port: 5432, protocol: 'TCP' }), port({ port: 53, protocol: 'UDP' })], externalIPs: [] },
});

describe('servicesTable (get svc)', () => {
  const cases: { name: string; services: Parameters<typeof servicesTable>[0]; options: TableOptions; want: string }[] = [
    {
      name: 'ClusterIP services',
      services: [kubernetes, redis],
      options: plain,
      want: [
        'NAME            TYPE        CLUSTER-IP   EXTERNAL-IP   PORT(S)    AGE',
        'kubernetes      ClusterIP   10.96.0.1    <none>        443/TCP    3d',
        'redis-service   ClusterIP   10.96.0.10   <none>        6379/TCP   5s',
        '',
      ].join('\n'),
    },
    {
      name: 'NodePort service with two ports',
      services: [web],
      options: plain,
      want: [
        'NAME   TYPE       CLUSTER-IP    EXTERNAL-IP   PORT(S)                      AGE',
        'web    NodePort   10.96.12.34   <none>        80:30080/TCP,443:30443/TCP   2m30s',
        '',
      ].join('\n'),
    },
    {
      name: 'LoadBalancer: EXTERNAL-IP is the ingress IP (or <pending>), PORT(S) has the node port (none without)',
      services: [
        { ...web, metadata: { ...web.metadata, name: 'lb' }, spec: { ...web.spec, type: 'LoadBalancer', ports: [port({ name: 'http', port: 80, nodePort: 31234 })] }, status: { loadBalancer: { ingress: [{ ip: '203.0.113.9' }] } } },
        { ...web, metadata: { ...web.metadata, name: 'lb-pending' }, spec: { ...web.spec, type: 'LoadBalancer', ports: [port({ name: 'http', port: 80 })] } },
      ],
      options: plain,
      want: [
        'NAME         TYPE           CLUSTER-IP    EXTERNAL-IP   PORT(S)        AGE',
        'lb           LoadBalancer   10.96.12.34   203.0.113.9   80:31234/TCP   2m30s',
        'lb-pending   LoadBalancer   10.96.12.34   <pending>     80/TCP         2m30s',
        '',
      ].join('\n'),
    },
    {
      name: 'all namespaces adds NAMESPACE first',
      services: [redis, web],
      options: { ...plain, allNamespaces: true },
      want: [
        'NAMESPACE   NAME            TYPE        CLUSTER-IP    EXTERNAL-IP   PORT(S)                      AGE',
        'default     redis-service   ClusterIP   10.96.0.10    <none>        6379/TCP                     5s',
        'shop        web             NodePort    10.96.12.34   <none>        80:30080/TCP,443:30443/TCP   2m30s',
        '',
      ].join('\n'),
    },
    {
      name: 'wide adds SELECTOR (sorted k=v, <none> when empty); headless shows None',
      services: [headless, kubernetes, redis],
      options: { ...plain, wide: true },
      want: [
        'NAME            TYPE        CLUSTER-IP   EXTERNAL-IP   PORT(S)           AGE   SELECTOR',
        'db              ClusterIP   None         <none>        5432/TCP,53/UDP   4h    <none>',
        'kubernetes      ClusterIP   10.96.0.1    <none>        443/TCP           3d    <none>',
        'redis-service   ClusterIP   10.96.0.10   <none>        6379/TCP          5s    app=redis,tier=cache',
        '',
      ].join('\n'),
    },
    {
      name: 'show-labels adds LABELS last; external IPs are listed',
      services: [{ ...kubernetes, spec: { ...kubernetes.spec, externalIPs: ['192.0.2.10', '192.0.2.11'] } }],
      options: { ...plain, showLabels: true },
      want: [
        'NAME         TYPE        CLUSTER-IP   EXTERNAL-IP             PORT(S)   AGE   LABELS',
        'kubernetes   ClusterIP   10.96.0.1    192.0.2.10,192.0.2.11   443/TCP   3d    component=apiserver,provider=kubernetes',
        '',
      ].join('\n'),
    },
  ];
  it.each(cases)('$name', ({ services, options, want }) => {
    expect(servicesTable(services, options)).toBe(want);
  });
});

describe('endpointsTable (get ep)', () => {
  const cases: { name: string; items: Parameters<typeof endpointsTable>[0]; want: string }[] = [
    {
      name: 'ready addresses only, at most three then "+ N more..."',
      items: [
        endpoints({
          name: 'redis-service',
          created: at(3 * 86400 - 5),
          subsets: [
            {
              addresses: ['10.244.1.5', '10.244.1.6', '10.244.2.3', '10.244.2.4', '10.244.3.9'].map((ip) => address(ip)).concat(address('10.244.9.9', false)),
              ports: [{ name: '', port: 6379, protocol: 'TCP' }],
            },
          ],
        }),
        endpoints({ name: 'empty', created: at(3 * 86400 - 60), subsets: [] }),
        endpoints({
          name: 'web',
          created: at(3 * 86400 - 60),
          subsets: [
            { addresses: [address('10.244.1.7')], ports: [{ name: 'http', port: 8080, protocol: 'TCP' }] },
            { addresses: [address('fd00::7')], ports: [{ name: 'http', port: 8080, protocol: 'TCP' }] },
          ],
        }),
      ],
      want: [
        'NAME            ENDPOINTS                                                     AGE',
        'redis-service   10.244.1.5:6379,10.244.1.6:6379,10.244.2.3:6379 + 2 more...   5s',
        'empty           <none>                                                        60s',
        'web             10.244.1.7:8080,[fd00::7]:8080                                60s',
        '',
      ].join('\n'),
    },
  ];
  it.each(cases)('$name', ({ items, want }) => {
    expect(endpointsTable(items, plain)).toBe(want);
  });
});

describe('podsTable (get pods)', () => {
  const redisPod = pod({ name: 'redis', labels: { app: 'redis' }, nodeName: 'node-1', ip: '10.244.1.5', created: at(3 * 86400 - 30) });
  const slow = pod({ name: 'slow', nodeName: 'node-2', ip: '10.244.2.3', ready: false, created: at(3 * 86400 - 30) });
  const going = pod({ name: 'going', labels: { app: 'x', v: '2' }, nodeName: 'node-2', ip: '10.244.2.4', terminating: true, created: at(0) });
  const cases: { name: string; options: TableOptions; want: string }[] = [
    {
      name: 'READY, STATUS, IP and NODE',
      options: plain,
      want: [
        'NAME    READY   STATUS        IP           NODE     AGE',
        'redis   1/1     Running       10.244.1.5   node-1   30s',
        'slow    0/1     Running       10.244.2.3   node-2   30s',
        'going   1/1     Terminating   10.244.2.4   node-2   3d',
        '',
      ].join('\n'),
    },
    {
      name: 'wide adds LABELS',
      options: { ...plain, wide: true },
      want: [
        'NAME    READY   STATUS        IP           NODE     AGE   LABELS',
        'redis   1/1     Running       10.244.1.5   node-1   30s   app=redis',
        'slow    0/1     Running       10.244.2.3   node-2   30s   <none>',
        'going   1/1     Terminating   10.244.2.4   node-2   3d    app=x,v=2',
        '',
      ].join('\n'),
    },
  ];
  it.each(cases)('$name', ({ options, want }) => {
    expect(podsTable([redisPod, slow, going], options)).toBe(want);
  });
});
