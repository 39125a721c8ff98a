/**
 * Builders for the CLI's unit tests: complete domain objects from a few fields.
 * (Not exported from index.ts; test code only.)
 */
import type { Endpoints, EndpointAddress, Pod, Service, ServicePort, ServiceSpec } from '@svcnet/model';

export const T0 = new Date('2026-11-27T02:00:00Z');

export function at(secondsAfterT0: number): Date {
  return new Date(T0.getTime() + secondsAfterT0 * 1000);
}

export function port(p: Partial<ServicePort> & { port: number }): ServicePort {
  return { name: '', protocol: 'TCP', targetPort: 0, nodePort: 0, ...p };
}

export function service(params: {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  created?: Date;
  spec?: Partial<ServiceSpec>;
}): Service {
  return {
    metadata: {
      namespace: params.namespace ?? 'default',
      name: params.name,
      uid: `uid-${params.name}`,
      labels: params.labels ?? {},
      annotations: {},
      resourceVersion: 1,
      ...(params.created ? { creationTimestamp: params.created } : {}),
    },
    spec: {
      type: 'ClusterIP',
      clusterIP: '',
      clusterIPs: [],
      ipFamilies: [],
      ports: [],
      selector: {},
      sessionAffinity: 'None',
      sessionAffinityTimeoutSeconds: 0,
      externalTrafficPolicy: 'Cluster',
      internalTrafficPolicy: 'Cluster',
      externalIPs: [],
      ...params.spec,
    },
  };
}

export function pod(params: Partial<Omit<Pod, 'metadata'>> & {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  created?: Date;
}): Pod {
  const { name, namespace, labels, created, ...rest } = params;
  return {
    metadata: {
      namespace: namespace ?? 'default',
      name,
      uid: `uid-${name}`,
      labels: labels ?? {},
      annotations: {},
      resourceVersion: 1,
      ...(created ? { creationTimestamp: created } : {}),
    },
    nodeName: '',
    ip: '',
    ready: true,
    containerPorts: [],
    terminating: false,
    ...rest,
  };
}

export function address(ip: string, ready = true): EndpointAddress {
  return { ip, nodeName: 'node-1', ready, serving: ready, terminating: false };
}

export function endpoints(params: {
  name: string;
  namespace?: string;
  created?: Date;
  subsets: Endpoints['subsets'];
}): Endpoints {
  return {
    metadata: {
      namespace: params.namespace ?? 'default',
      name: params.name,
      uid: `uid-ep-${params.name}`,
      labels: {},
      annotations: {},
      resourceVersion: 1,
      ...(params.created ? { creationTimestamp: params.created } : {}),
    },
    subsets: params.subsets,
  };
}
