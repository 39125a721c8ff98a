import type { Endpoints } from '@svcnet/model';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { pod, port, service, T0 } from '../test-builders.js';
import { parseManifestDocuments } from './documents.js';
import { ManifestError, objectFromManifest } from './from-manifest.js';
import { endpointsToManifest, podToManifest, serviceToManifest } from './to-manifest.js';

const file = `
apiVersion: v1
kind: Pod
metadata:
  name: redis
  labels:
    app: redis
spec:
  nodeName: node-1
  containers:
  - name: redis
    ports:
    - name: redis
      containerPort: 6379
status:
  podIP: 10.244.1.5
---
# an empty document is skipped
---
apiVersion: v1
kind: Service
metadata:
  name: redis-service
  namespace: cache
spec:
  type: NodePort
  selector:
    app: redis
  ports:
  - name: redis
    port: 6379
    targetPort: redis
    nodePort: 30079
  - port: 6380
    protocol: UDP
  sessionAffinity: ClientIP
  sessionAffinityConfig:
    clientIP:
      timeoutSeconds: 600
---
apiVersion: v1
kind: Endpoints
metadata:
  name: external
subsets:
- addresses:
  - ip: 192.0.2.10
  notReadyAddresses:
  - ip: 192.0.2.11
  ports:
  - name: http
    port: 80
`;

describe('parseManifestDocuments + objectFromManifest', () => {
  it('reads every kind of a multi-document file, defaulting the namespace', () => {
    const objects = parseManifestDocuments(file).map((d) => objectFromManifest(d, 'default'));
    expect(objects.map((o) => `${o.kind}/${o.object.metadata.namespace}/${o.object.metadata.name}`)).toEqual([
      'Pod/default/redis',
      'Service/cache/redis-service',
      'Endpoints/default/external',
    ]);
    const [p, s, e] = objects;
    expect(p!.object).toMatchObject({
      nodeName: 'node-1',
      ip: '10.244.1.5',
      ready: true,
      terminating: false,
      containerPorts: [{ name: 'redis', containerPort: 6379, protocol: 'TCP' }],
    });
    expect(s!.object).toMatchObject({
      spec: {
        type: 'NodePort',
        clusterIP: '',
        selector: { app: 'redis' },
        ports: [
          { name: 'redis', port: 6379, targetPort: 'redis', nodePort: 30079, protocol: 'TCP' },
          { name: '', port: 6380, targetPort: 0, nodePort: 0, protocol: 'UDP' },
        ],
        sessionAffinity: 'ClientIP',
        sessionAffinityTimeoutSeconds: 600,
      },
    });
    expect((e!.object as Endpoints).subsets[0]!.addresses.map((a) => `${a.ip}:${a.ready}`)).toEqual(['192.0.2.10:true', '192.0.2.11:false']);
  });

  it('unpacks kind: List', () => {
    const docs = parseManifestDocuments(
      'apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Pod, metadata: {name: a}}\n- {apiVersion: v1, kind: Pod, metadata: {name: b}}\n',
    );
    expect(docs).toHaveLength(2);
  });

  it('reads EndpointSlice conditions on Endpoints addresses (svcnet extension): serving, terminating, not ready', () => {
    const doc = parse(`apiVersion: v1
kind: Endpoints
metadata: {name: e}
subsets:
- addresses:
  - ip: 192.0.2.1
  notReadyAddresses:
  - {ip: 192.0.2.2, conditions: {serving: true, terminating: true}}
  - {ip: 192.0.2.3, conditions: {serving: false, terminating: true}}
  - {ip: 192.0.2.4}
  ports: [{port: 80}]
`);
    const e = objectFromManifest(doc, 'default').object as Endpoints;
    expect(e.subsets[0]!.addresses.map((a) => [a.ip, a.ready, a.serving, a.terminating])).toEqual([
      ['192.0.2.1', true, true, false],
      ['192.0.2.2', false, true, true],
      ['192.0.2.3', false, false, true],
      ['192.0.2.4', false, false, false],
    ]);
    // And back: conditions are written where the lists do not say it all.
    const back = objectFromManifest(JSON.parse(JSON.stringify(endpointsToManifest(e))), 'default').object as Endpoints;
    expect(back.subsets).toEqual(e.subsets);
    expect(JSON.stringify(endpointsToManifest(e))).not.toContain('"192.0.2.1","conditions"');
  });

  it('a terminating pod is written with deletionTimestamp and read back as terminating', () => {
    const p = pod({ name: 'p', nodeName: 'n', ip: '10.244.0.9', ready: true, terminating: true });
    const manifest = podToManifest(p) as { metadata: Record<string, unknown> };
    expect(manifest.metadata.deletionTimestamp).toBeDefined();
    expect(objectFromManifest(JSON.parse(JSON.stringify(manifest)), 'default').object).toMatchObject({ ready: true, terminating: true });
  });

  it('reads readiness from the Ready condition', () => {
    const doc = parse('apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nstatus:\n  conditions:\n  - {type: Ready, status: "False"}\n');
    expect(objectFromManifest(doc, 'default').object).toMatchObject({ ready: false });
  });

  const invalid: { name: string; yaml: string; message: string }[] = [
    { name: 'unknown kind', yaml: 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}', message: 'no matches for kind "Deployment" in version "apps/v1"' },
    { name: 'missing kind', yaml: 'metadata: {name: x}', message: "Object 'Kind' is missing" },
    { name: 'missing name', yaml: 'apiVersion: v1\nkind: Service\nmetadata: {}', message: 'metadata.name: Required value' },
    { name: 'port is not a number', yaml: 'apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {ports: [{port: abc}]}', message: 'spec.ports[0].port: expected an integer, got string "abc"' },
    { name: 'unsupported type', yaml: 'apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {type: ExternalName}', message: 'spec.type: Unsupported value: "ExternalName"' },
    {
      name: 'endpoint conditions that contradict their list',
      yaml: 'apiVersion: v1\nkind: Endpoints\nmetadata: {name: x}\nsubsets: [{notReadyAddresses: [{ip: 192.0.2.1, conditions: {ready: true}}]}]',
      message: 'subsets[0].notReadyAddresses[0].conditions.ready: ready: true contradicts',
    },
    {
      name: 'endpoint condition not a boolean',
      yaml: 'apiVersion: v1\nkind: Endpoints\nmetadata: {name: x}\nsubsets: [{addresses: [{ip: 192.0.2.1, conditions: {serving: "yes"}}]}]',
      message: 'subsets[0].addresses[0].conditions.serving: expected a boolean',
    },
    { name: 'bad protocol', yaml: 'apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {ports: [{port: 1, protocol: ICMP}]}', message: 'spec.ports[0].protocol: Unsupported value: "ICMP"' },
    { name: 'label value not a string', yaml: 'apiVersion: v1\nkind: Pod\nmetadata: {name: x, labels: {v: 2}}', message: 'metadata.labels.v: expected a string' },
  ];
  it.each(invalid)('rejects $name', ({ yaml, message }) => {
    const run = (): unknown => objectFromManifest(parse(yaml), 'default');
    expect(run).toThrow(ManifestError);
    expect(run).toThrow(message);
  });

  it('rejects broken YAML with a ManifestError', () => {
    expect(() => parseManifestDocuments('kind: [unclosed')).toThrow(ManifestError);
  });
});

describe('manifest round trip (-o yaml → apply -f)', () => {
  const cases = [
    {
      name: 'NodePort service',
      kind: 'Service' as const,
      object: service({
        name: 'web',
        labels: { app: 'web' },
        created: T0,
        spec: {
          type: 'NodePort',
          clusterIP: '10.96.0.20',
          clusterIPs: ['10.96.0.20'],
          ipFamilies: ['IPv4'],
          ports: [port({ name: 'http', port: 80, targetPort: 'http', nodePort: 30080 })],
          selector: { app: 'web' },
          sessionAffinity: 'ClientIP',
          sessionAffinityTimeoutSeconds: 60,
          externalTrafficPolicy: 'Local',
          externalIPs: ['192.0.2.1'],
        },
      }),
    },
    {
      name: 'LoadBalancer service with an ingress IP, source ranges and no node ports',
      kind: 'Service' as const,
      object: {
        ...service({
          name: 'lb',
          created: T0,
          spec: {
            type: 'LoadBalancer',
            clusterIP: '10.96.0.21',
            clusterIPs: ['10.96.0.21'],
            ipFamilies: ['IPv4'],
            ports: [port({ name: 'http', port: 80, targetPort: 8080 })],
            selector: { app: 'web' },
            externalTrafficPolicy: 'Local',
            loadBalancerSourceRanges: ['192.0.2.0/24'],
            allocateLoadBalancerNodePorts: false,
            healthCheckNodePort: 32000,
          },
        }),
        status: { loadBalancer: { ingress: [{ ip: '203.0.113.9' }] } },
      },
    },
    {
      name: 'pod',
      kind: 'Pod' as const,
      object: pod({ name: 'p', labels: { a: 'b' }, nodeName: 'n', ip: '10.244.0.9', ready: false, containerPorts: [{ name: 'dns', containerPort: 53, protocol: 'UDP' }] }),
    },
  ];
  it.each(cases)('$name', ({ kind, object }) => {
    const manifest = kind === 'Service' ? serviceToManifest(object as ReturnType<typeof service>) : podToManifest(object as ReturnType<typeof pod>);
    const back = objectFromManifest(JSON.parse(JSON.stringify(manifest)), 'other');
    // Server-set metadata (uid, resourceVersion, creationTimestamp) is not read back.
    expect(back.object).toEqual({
      ...object,
      metadata: { ...object.metadata, uid: '', resourceVersion: 0, creationTimestamp: undefined },
    });
  });
});
