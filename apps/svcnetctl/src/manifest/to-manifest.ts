/**
 * Domain objects → Kubernetes-shaped manifests (what `-o yaml|json` prints and
 * what `apply -f` reads back). Empty fields are left out, as Go's `omitempty` does.
 */
import type { Endpoints, EndpointAddress, ObjectMeta, Pod, Service } from '@svcnet/model';

/** A JSON-able Kubernetes object. */
export type Manifest = Record<string, unknown>;

function nonEmpty<T>(value: T[] | Record<string, string>): T[] | Record<string, string> | undefined {
  const n = Array.isArray(value) ? value.length : Object.keys(value).length;
  return n > 0 ? value : undefined;
}

/** Removes undefined values so JSON and YAML output match (YAML would print `null`). */
function compact(obj: Record<string, unknown>): Manifest {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined));
}

/** Timestamps as Kubernetes writes them: RFC 3339, seconds precision. */
export function formatTimestamp(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function metadataManifest(meta: ObjectMeta): Manifest {
  return compact({
    name: meta.name,
    namespace: meta.namespace,
    uid: meta.uid || undefined,
    resourceVersion: meta.resourceVersion ? String(meta.resourceVersion) : undefined,
    creationTimestamp: meta.creationTimestamp ? formatTimestamp(meta.creationTimestamp) : undefined,
    labels: nonEmpty(meta.labels),
    annotations: nonEmpty(meta.annotations),
  });
}

export function serviceToManifest(service: Service): Manifest {
  const spec = service.spec;
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: metadataManifest(service.metadata),
    spec: compact({
      type: spec.type,
      clusterIP: spec.clusterIP || undefined,
      clusterIPs: nonEmpty(spec.clusterIPs),
      ipFamilies: nonEmpty(spec.ipFamilies),
      ports: spec.ports.map((p) =>
        compact({
          name: p.name || undefined,
          protocol: p.protocol,
          port: p.port,
          // The API server defaults an unset targetPort to the port.
          targetPort: p.targetPort === 0 || p.targetPort === '' ? p.port : p.targetPort,
          nodePort: p.nodePort || undefined,
        }),
      ),
      selector: nonEmpty(spec.selector),
      sessionAffinity: spec.sessionAffinity,
      sessionAffinityConfig:
        spec.sessionAffinity === 'ClientIP' && spec.sessionAffinityTimeoutSeconds
          ? { clientIP: { timeoutSeconds: spec.sessionAffinityTimeoutSeconds } }
          : undefined,
      // Kubernetes only keeps externalTrafficPolicy on externally reachable services.
      externalTrafficPolicy:
        spec.type !== 'ClusterIP' || spec.externalIPs.length > 0 ? spec.externalTrafficPolicy : undefined,
      internalTrafficPolicy: spec.internalTrafficPolicy,
      externalIPs: nonEmpty(spec.externalIPs),
      loadBalancerSourceRanges: spec.loadBalancerSourceRanges?.length ? spec.loadBalancerSourceRanges : undefined,
      allocateLoadBalancerNodePorts: spec.type === 'LoadBalancer' ? spec.allocateLoadBalancerNodePorts !== false : undefined,
      healthCheckNodePort: spec.healthCheckNodePort || undefined,
    }),
    status: { loadBalancer: service.status?.loadBalancer.ingress.length ? { ingress: service.status.loadBalancer.ingress.map((i) => compact({ ...i })) } : {} },
  };
}

export function podToManifest(pod: Pod): Manifest {
  const metadata = metadataManifest(pod.metadata);
  // deletionTimestamp is how Kubernetes marks a terminating pod; we know only that it is.
  if (pod.terminating) metadata.deletionTimestamp = metadata.creationTimestamp ?? formatTimestamp(new Date(0));
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata,
    spec: compact({
      nodeName: pod.nodeName || undefined,
      containers: [
        compact({
          name: pod.metadata.name,
          ports:
            pod.containerPorts.length > 0
              ? pod.containerPorts.map((c) =>
                  compact({ name: c.name || undefined, containerPort: c.containerPort, protocol: c.protocol }),
                )
              : undefined,
        }),
      ],
    }),
    status: compact({
      phase: 'Running',
      podIP: pod.ip || undefined,
      podIPs: pod.ip ? [{ ip: pod.ip }] : undefined,
      conditions: [{ type: 'Ready', status: pod.ready ? 'True' : 'False' }],
    }),
  };
}

function addressManifest(a: EndpointAddress): Manifest {
  // The conditions are written only when the list the address is in does not say it all (svcnet's extension).
  const plain = a.serving === a.ready && !a.terminating;
  return compact({
    ip: a.ip,
    nodeName: a.nodeName || undefined,
    conditions: plain ? undefined : { ready: a.ready, serving: a.serving, terminating: a.terminating },
    targetRef: a.podRef ? compact({ kind: a.podRef.kind, namespace: a.podRef.namespace, name: a.podRef.name, uid: a.podRef.uid || undefined }) : undefined,
  });
}

export function endpointsToManifest(endpoints: Endpoints): Manifest {
  return compact({
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: metadataManifest(endpoints.metadata),
    subsets:
      endpoints.subsets.length > 0
        ? endpoints.subsets.map((s) => {
            const ready = s.addresses.filter((a) => a.ready).map(addressManifest);
            const notReady = s.addresses.filter((a) => !a.ready).map(addressManifest);
            return compact({
              addresses: ready.length > 0 ? ready : undefined,
              notReadyAddresses: notReady.length > 0 ? notReady : undefined,
              ports: s.ports.length > 0 ? s.ports.map((p) => compact({ name: p.name || undefined, port: p.port, protocol: p.protocol })) : undefined,
            });
          })
        : undefined,
  });
}
