import { describe, expect, it } from 'vitest';
import type { Pod, Service } from './types.js';
import {
  validateEndpoints,
  validateNamespaceFilter,
  validateObjectKey,
  validatePod,
  validateService,
  validateServiceUpdate,
} from './validation.js';
import { SvcnetError } from './errors.js';

function service(mut: (s: Service) => void = () => undefined): Service {
  const s: Service = {
    metadata: { namespace: 'default', name: 'web', uid: '', labels: {}, annotations: {}, resourceVersion: 0 },
    spec: {
      type: 'ClusterIP',
      clusterIP: '',
      clusterIPs: [],
      ipFamilies: [],
      ports: [{ name: '', protocol: 'TCP', port: 80, targetPort: 8080, nodePort: 0 }],
      selector: { app: 'web' },
      sessionAffinity: 'None',
      sessionAffinityTimeoutSeconds: 0,
      externalTrafficPolicy: 'Cluster',
      internalTrafficPolicy: 'Cluster',
      externalIPs: [],
    },
  };
  mut(s);
  return s;
}

function pod(mut: (p: Pod) => void = () => undefined): Pod {
  const p: Pod = {
    metadata: { namespace: 'default', name: 'web-1', uid: '', labels: { app: 'web' }, annotations: {}, resourceVersion: 0 },
    nodeName: 'node1',
    ip: '10.244.1.5',
    ready: true,
    terminating: false,
    containerPorts: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
  };
  mut(p);
  return p;
}

function errorOf(fn: () => void): SvcnetError | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    if (err instanceof SvcnetError) return err;
    throw err;
  }
}

const port = (over: Partial<Service['spec']['ports'][number]>) => ({
  name: '',
  protocol: 'TCP' as const,
  port: 80,
  targetPort: 0,
  nodePort: 0,
  ...over,
});

describe('validateService', () => {
  const cases: { name: string; svc: Service; field?: string; message?: string }[] = [
    { name: 'a plain ClusterIP service is valid', svc: service() },
    { name: 'headless without ports is valid', svc: service((s) => ((s.spec.clusterIP = 'None'), (s.spec.ports = []))) },
    {
      name: 'NodePort with explicit node port is valid',
      svc: service((s) => ((s.spec.type = 'NodePort'), (s.spec.ports = [port({ nodePort: 30080 })]))),
    },
    { name: 'named target port is valid', svc: service((s) => (s.spec.ports = [port({ targetPort: 'http' })])) },
    {
      name: 'LoadBalancer with eTP Local, source ranges, a health check node port and an ingress IP is valid',
      svc: service((s) => {
        s.spec.type = 'LoadBalancer';
        s.spec.ports = [port({ nodePort: 30080 })];
        s.spec.externalTrafficPolicy = 'Local';
        s.spec.loadBalancerSourceRanges = ['192.0.2.0/24', 'fd00::/64'];
        s.spec.healthCheckNodePort = 32000;
        s.status = { loadBalancer: { ingress: [{ ip: '203.0.113.9' }] } };
      }),
    },
    {
      name: 'source ranges on a NodePort service',
      svc: service((s) => ((s.spec.type = 'NodePort'), (s.spec.loadBalancerSourceRanges = ['192.0.2.0/24']))),
      field: 'spec.loadBalancerSourceRanges',
      message: "may only be used when `type` is 'LoadBalancer'",
    },
    {
      name: 'a source range that is not a CIDR',
      svc: service((s) => ((s.spec.type = 'LoadBalancer'), (s.spec.loadBalancerSourceRanges = ['192.0.2.0']))),
      field: 'spec.loadBalancerSourceRanges[0]',
      message: 'must be a valid CIDR',
    },
    {
      name: 'a health check node port without eTP Local',
      svc: service((s) => ((s.spec.type = 'LoadBalancer'), (s.spec.healthCheckNodePort = 32000))),
      field: 'spec.healthCheckNodePort',
      message: "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
    },
    {
      name: 'an ingress IP on a ClusterIP service',
      svc: service((s) => (s.status = { loadBalancer: { ingress: [{ ip: '203.0.113.9' }] } })),
      field: 'status.loadBalancer.ingress[0]',
      message: "may only be set when `type` is 'LoadBalancer'",
    },
    {
      name: 'an ingress IP that is not an IP',
      svc: service((s) => ((s.spec.type = 'LoadBalancer'), (s.status = { loadBalancer: { ingress: [{ ip: '203.0.113' }] } }))),
      field: 'status.loadBalancer.ingress[0].ip',
      message: 'must be a valid IP address',
    },
    {
      name: 'uppercase name',
      svc: service((s) => (s.metadata.name = 'Web')),
      field: 'metadata.name',
      message: 'metadata.name: Invalid value: "Web": a DNS-1035 label must consist of lower case alphanumeric characters',
    },
    {
      name: 'name starting with a digit',
      svc: service((s) => (s.metadata.name = '1web')),
      field: 'metadata.name',
      message: 'start with an alphabetic character',
    },
    {
      name: 'name of 64 characters',
      svc: service((s) => (s.metadata.name = 'a'.repeat(64))),
      field: 'metadata.name',
      message: 'must be no more than 63 characters',
    },
    {
      name: 'missing name',
      svc: service((s) => (s.metadata.name = '')),
      field: 'metadata.name',
      message: 'metadata.name: Required value: name or generateName is required',
    },
    {
      name: 'bad namespace',
      svc: service((s) => (s.metadata.namespace = 'Prod_1')),
      field: 'metadata.namespace',
      message: 'RFC 1123 label',
    },
    { name: 'no ports', svc: service((s) => (s.spec.ports = [])), field: 'spec.ports', message: 'spec.ports: Required value' },
    {
      name: 'port 0',
      svc: service((s) => (s.spec.ports = [port({ port: 0 })])),
      field: 'spec.ports[0].port',
      message: 'spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive',
    },
    {
      name: 'port 65536',
      svc: service((s) => (s.spec.ports = [port({ port: 65536 })])),
      field: 'spec.ports[0].port',
      message: 'Invalid value: 65536: must be between 1 and 65535, inclusive',
    },
    {
      name: 'unnamed second port',
      svc: service((s) => (s.spec.ports = [port({ name: 'http' }), port({ port: 443 })])),
      field: 'spec.ports[1].name',
      message: 'spec.ports[1].name: Required value',
    },
    {
      name: 'duplicate port names',
      svc: service((s) => (s.spec.ports = [port({ name: 'http' }), port({ name: 'http', port: 443 })])),
      field: 'spec.ports[1].name',
      message: 'spec.ports[1].name: Duplicate value: "http"',
    },
    {
      name: 'duplicate port and protocol',
      svc: service((s) => (s.spec.ports = [port({ name: 'a' }), port({ name: 'b' })])),
      field: 'spec.ports[1]',
      message: 'spec.ports[1]: Duplicate value: "80/TCP"',
    },
    {
      name: 'unsupported protocol',
      svc: service((s) => (s.spec.ports = [port({ protocol: 'ICMP' as never })])),
      field: 'spec.ports[0].protocol',
      message: 'spec.ports[0].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"',
    },
    {
      name: 'target port out of range',
      svc: service((s) => (s.spec.ports = [port({ targetPort: 70000 })])),
      field: 'spec.ports[0].targetPort',
      message: 'spec.ports[0].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive',
    },
    {
      name: 'named target port too long',
      svc: service((s) => (s.spec.ports = [port({ targetPort: 'a-very-long-port-name' })])),
      field: 'spec.ports[0].targetPort',
      message: 'must be no more than 15 characters',
    },
    {
      name: 'named target port without a letter',
      svc: service((s) => (s.spec.ports = [port({ targetPort: '123' })])),
      field: 'spec.ports[0].targetPort',
      message: 'must contain at least one letter (a-z)',
    },
    {
      name: 'node port on a ClusterIP service',
      svc: service((s) => (s.spec.ports = [port({ nodePort: 30080 })])),
      field: 'spec.ports[0].nodePort',
      message: "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'",
    },
    {
      name: 'duplicate node ports',
      svc: service(
        (s) => (
          (s.spec.type = 'NodePort'),
          (s.spec.ports = [port({ name: 'a', nodePort: 30080 }), port({ name: 'b', port: 81, nodePort: 30080 })])
        ),
      ),
      field: 'spec.ports[1].nodePort',
      message: 'Duplicate value: 30080',
    },
    {
      name: 'bad cluster IP',
      svc: service((s) => (s.spec.clusterIP = '10.96.0.300')),
      field: 'spec.clusterIP',
      message: 'spec.clusterIP: Invalid value: "10.96.0.300": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
    },
    {
      name: 'headless NodePort',
      svc: service((s) => ((s.spec.type = 'NodePort'), (s.spec.clusterIP = 'None'))),
      field: 'spec.clusterIP',
      message: "may not be set to 'None' for NodePort services",
    },
    {
      name: 'affinity timeout too large',
      svc: service((s) => ((s.spec.sessionAffinity = 'ClientIP'), (s.spec.sessionAffinityTimeoutSeconds = 86401))),
      field: 'spec.sessionAffinityConfig.clientIP.timeoutSeconds',
      message: 'must be greater than 0 and less than 86400',
    },
    {
      name: 'Local external policy on ClusterIP',
      svc: service((s) => (s.spec.externalTrafficPolicy = 'Local')),
      field: 'spec.externalTrafficPolicy',
      message: "may only be set when `type` is 'NodePort'",
    },
    {
      name: 'bad selector value',
      svc: service((s) => (s.spec.selector = { app: 'bad value' })),
      field: 'spec.selector',
      message: 'a valid label must be an empty string',
    },
    {
      name: 'annotation key with a space',
      svc: service((s) => (s.metadata.annotations = { 'bad key': 'x' })),
      field: 'metadata.annotations',
      message: 'metadata.annotations: Invalid value: "bad key": name part must consist of',
    },
    {
      name: 'annotation key with an empty prefix',
      svc: service((s) => (s.metadata.annotations = { '/x': 'v' })),
      field: 'metadata.annotations',
      message: 'prefix part must be a lowercase RFC 1123 subdomain',
    },
    { name: 'prefixed annotation key is valid', svc: service((s) => (s.metadata.annotations = { 'svcnet.io/owner': 'team a' })) },
    {
      name: 'annotations over 256 KiB together',
      svc: service((s) => (s.metadata.annotations = { a: 'x'.repeat(200_000), b: 'y'.repeat(70_000) })),
      field: 'metadata.annotations',
      message: 'metadata.annotations: Too long: must have at most 262144 bytes',
    },
    {
      name: 'two cluster IPs of one family',
      svc: service((s) => (s.spec.clusterIPs = ['10.96.0.5', '10.96.0.6'])),
      field: 'spec.clusterIPs',
      message: 'may specify no more than one IP for each IP family',
    },
    {
      name: 'ipFamilies that contradict the cluster IPs',
      svc: service((s) => ((s.spec.clusterIPs = ['10.96.0.5', 'fd00::5']), (s.spec.ipFamilies = ['IPv6', 'IPv4']))),
      field: 'spec.ipFamilies[0]',
      message: 'does not match spec.clusterIPs[0] (IPv4)',
    },
    { name: 'dual-stack cluster IPs are valid', svc: service((s) => (s.spec.clusterIPs = ['10.96.0.5', 'fd00::5'])) },
    {
      name: 'loopback external IP',
      svc: service((s) => (s.spec.externalIPs = ['127.0.0.1'])),
      field: 'spec.externalIPs[0]',
      message: 'may not be in the loopback range',
    },
    {
      name: 'a huge label value is echoed cut short',
      svc: service((s) => (s.spec.selector = { app: 'v'.repeat(200_000) })),
      field: 'spec.selector',
      message: '...(200002 characters)',
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const err = errorOf(() => validateService(c.svc));
      if (!c.field) {
        expect(err).toBeUndefined();
        return;
      }
      expect(err?.code).toBe('INVALID_ARGUMENT');
      expect(err?.field).toBe(c.field);
      expect(err?.message).toContain(`Service "${c.svc.metadata.name}" is invalid: `);
      expect(err?.message).toContain(c.message);
    });
  }

  it('keeps a refusal short whatever was sent', () => {
    const labels = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`k${i}`, `bad value ${'x'.repeat(1000)}`]));
    const err = errorOf(() => validateService(service((s) => (s.metadata.labels = labels))));
    expect(err?.message).toContain('and 490 more errors');
    expect(err!.message.length).toBeLessThan(4096);
  });

  it('reports every problem, first field first', () => {
    const err = errorOf(() => validateService(service((s) => ((s.metadata.name = 'X'), (s.spec.ports = [port({ port: 0 })])))));
    expect(err?.field).toBe('metadata.name');
    expect(err?.message).toContain('spec.ports[0].port: Invalid value: 0');
  });
});

describe('validateServiceUpdate', () => {
  const cases = [
    { name: 'same cluster IP is fine', from: '10.96.0.10', to: '10.96.0.10', field: undefined },
    { name: 'changing the cluster IP is refused', from: '10.96.0.10', to: '10.96.0.11', field: 'spec.clusterIP' },
    { name: 'becoming headless is refused', from: '10.96.0.10', to: 'None', field: 'spec.clusterIP' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const err = errorOf(() =>
        validateServiceUpdate(service((s) => (s.spec.clusterIP = c.from)), service((s) => (s.spec.clusterIP = c.to))),
      );
      expect(err?.field).toBe(c.field);
      if (c.field) expect(err?.message).toContain(`Invalid value: "${c.to}": field is immutable`);
    });
  }
});

describe('validatePod', () => {
  const cases: { name: string; pod: Pod; cidr?: string; field?: string; message?: string }[] = [
    { name: 'a registered pod is valid', pod: pod(), cidr: '10.244.0.0/16' },
    { name: 'IPv6 pod in a dual-stack CIDR list', pod: pod((p) => (p.ip = 'fd00:10:244::5')), cidr: '10.244.0.0/16,fd00:10:244::/56' },
    {
      name: 'IP outside the pod CIDR',
      pod: pod((p) => (p.ip = '192.168.1.5')),
      cidr: '10.244.0.0/16',
      field: 'status.podIP',
      message: 'status.podIP: Invalid value: "192.168.1.5": must be inside the pod network 10.244.0.0/16',
    },
    { name: 'missing IP', pod: pod((p) => (p.ip = '')), field: 'status.podIP', message: 'Required value' },
    { name: 'bad IP', pod: pod((p) => (p.ip = 'nope')), field: 'status.podIP', message: 'must be a valid IP address' },
    { name: 'missing node', pod: pod((p) => (p.nodeName = '')), field: 'spec.nodeName', message: 'Required value' },
    { name: 'bad pod name', pod: pod((p) => (p.metadata.name = 'Web.1')), field: 'metadata.name', message: 'RFC 1123 label' },
    {
      name: 'duplicate container port names',
      pod: pod(
        (p) =>
          (p.containerPorts = [
            { name: 'http', containerPort: 80, protocol: 'TCP' },
            { name: 'http', containerPort: 81, protocol: 'TCP' },
          ]),
      ),
      field: 'spec.containers[0].ports[1].name',
      message: 'Duplicate value: "http"',
    },
    { name: 'loopback pod IP', pod: pod((p) => (p.ip = '127.0.0.5')), field: 'status.podIP', message: 'may not be in the loopback range' },
    {
      name: 'container port 0',
      pod: pod((p) => (p.containerPorts = [{ name: 'http', containerPort: 0, protocol: 'TCP' }])),
      field: 'spec.containers[0].ports[0].containerPort',
      message: 'must be between 1 and 65535, inclusive',
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const err = errorOf(() => validatePod(c.pod, c.cidr ? { podCidr: c.cidr } : {}));
      expect(err?.field).toBe(c.field);
      if (c.message) expect(err?.message).toContain(c.message);
    });
  }
});

describe('validateEndpoints', () => {
  const base = () => ({
    metadata: { namespace: 'default', name: 'ext', uid: '', labels: {}, annotations: {}, resourceVersion: 0 },
    subsets: [
      {
        addresses: [{ ip: '10.0.0.1', nodeName: '', ready: true, serving: true, terminating: false }],
        ports: [{ name: '', port: 80, protocol: 'TCP' as const }],
      },
    ],
  });
  const cases = [
    { name: 'valid endpoints', mut: () => undefined, field: undefined },
    { name: 'bad address', mut: (e: ReturnType<typeof base>) => (e.subsets[0]!.addresses[0]!.ip = 'x'), field: 'subsets[0].addresses[0].ip' },
    { name: 'bad port', mut: (e: ReturnType<typeof base>) => (e.subsets[0]!.ports[0]!.port = 0), field: 'subsets[0].ports[0].port' },
    ...['127.0.0.1', '::1', '169.254.169.254', 'fe80::1', '0.0.0.0', '::', '224.0.0.1', '239.1.2.3', 'ff02::1', '255.255.255.255'].map((ip) => ({
      name: `special address ${ip}`,
      mut: (e: ReturnType<typeof base>) => (e.subsets[0]!.addresses[0]!.ip = ip),
      field: 'subsets[0].addresses[0].ip',
    })),
    { name: 'a routable IPv6 address is fine', mut: (e: ReturnType<typeof base>) => (e.subsets[0]!.addresses[0]!.ip = 'fd00::10'), field: undefined },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const e = base();
      c.mut(e);
      expect(errorOf(() => validateEndpoints(e))?.field).toBe(c.field);
    });
  }
});

describe('validateObjectKey', () => {
  const cases: { name: string; kind: 'Service' | 'Pod' | 'Endpoints'; ns: string; n: string; field?: string; message?: string }[] = [
    { name: 'a service key', kind: 'Service', ns: 'default', n: 'web' },
    { name: 'a name of 5 KiB', kind: 'Service', ns: 'default', n: 'a'.repeat(5000), field: 'metadata.name', message: 'must be no more than 63 characters' },
    { name: 'a NATS wildcard in the name', kind: 'Pod', ns: 'default', n: 'web.*', field: 'metadata.name', message: 'RFC 1123 label' },
    { name: 'a NATS wildcard namespace', kind: 'Endpoints', ns: '>', n: 'web', field: 'metadata.namespace', message: 'RFC 1123 label' },
    { name: 'a missing name', kind: 'Pod', ns: 'default', n: '', field: 'metadata.name', message: 'Required value' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const err = errorOf(() => validateObjectKey(c.kind, c.ns, c.n));
      expect(err?.field).toBe(c.field);
      if (c.message) expect(err?.message).toContain(c.message);
      if (err) expect(err.message.length).toBeLessThan(1024);
    });
  }
  it('a namespace filter with a space is refused, an empty one is all', () => {
    expect(errorOf(() => validateNamespaceFilter('a b'))?.field).toBe('metadata.namespace');
    expect(errorOf(() => validateNamespaceFilter(''))).toBeUndefined();
  });
});
