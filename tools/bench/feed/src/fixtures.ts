import type { Endpoints, Service } from '@svcnet/model';

/** The annotation the benchmark stamps on every object it writes: when it wrote it (ms, wall clock). */
export const WRITTEN_AT = 'bench.svcnet.io/written-at';

/** Service i (selector-less, so the state service's endpoints controller leaves the benchmark's endpoints alone). */
export function benchService(i: number, port: number, writtenAt = 0): Service {
  const ip = `10.96.${(i >> 8) & 255}.${i & 255}`;
  return {
    metadata: {
      namespace: `ns${i % 50}`,
      name: `svc-${i}`,
      uid: `uid-${i}`,
      labels: { app: `app-${i}` },
      annotations: writtenAt ? { [WRITTEN_AT]: String(writtenAt) } : {},
      resourceVersion: 0,
      creationTimestamp: new Date(0),
    },
    spec: {
      type: 'ClusterIP',
      clusterIP: ip,
      clusterIPs: [ip],
      ipFamilies: ['IPv4'],
      ports: [{ name: 'http', protocol: 'TCP', port, targetPort: 8080, nodePort: 0 }],
      selector: {},
      sessionAffinity: 'None',
      sessionAffinityTimeoutSeconds: 0,
      externalTrafficPolicy: 'Cluster',
      internalTrafficPolicy: 'Cluster',
      externalIPs: [],
    },
  };
}

/** The endpoints of service i: `backends` pod addresses spread over nodes. */
export function benchEndpoints(i: number, backends: number, writtenAt = 0, generation = 0): Endpoints {
  return {
    metadata: {
      namespace: `ns${i % 50}`,
      name: `svc-${i}`,
      uid: `uid-ep-${i}`,
      labels: {},
      annotations: writtenAt ? { [WRITTEN_AT]: String(writtenAt) } : {},
      resourceVersion: 0,
      creationTimestamp: new Date(0),
    },
    subsets: [
      {
        addresses: Array.from({ length: backends }, (_, k) => ({
          ip: `10.${244 + ((i + k + generation) % 8)}.${(i >> 8) & 255}.${(i + k) & 255}`,
          nodeName: `node-${(i + k) % 100}`,
          ready: true,
          serving: true,
          terminating: false,
          podRef: { kind: 'Pod', namespace: `ns${i % 50}`, name: `pod-${i}-${k}`, uid: `uid-pod-${i}-${k}` },
        })),
        ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      },
    ],
  };
}
