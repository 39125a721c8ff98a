import { CLUSTER_IP_NONE, DEFAULT_AFFINITY_TIMEOUT_SECONDS, loadBalancerIPs, mayHaveNodePorts, namespacedName } from '@svcnet/model';
import type { Endpoints, Service } from '@svcnet/model';
import { isIP } from 'node:net';
import type { EndpointInfo, ServicePortInfo, SessionAffinityInfo } from './types.js';

/** IP family a proxier programs; services of the other family are dropped, as kube-proxy does per family. */
export type ProxyIpFamily = 4 | 6;

/** `<ns>/<name>:<portName>`: the key of a service port everywhere in proxy-core. */
export function servicePortId(namespace: string, name: string, portName: string): string {
  return `${namespacedName(namespace, name)}:${portName}`;
}

/** True for a service without a virtual IP (clusterIP None or unset): kube-proxy ignores those. */
export function isHeadless(svc: Service): boolean {
  const ip = svc.spec.clusterIP;
  return ip === '' || ip === CLUSTER_IP_NONE;
}

/**
 * One service → its ports as ServicePortInfo, keyed by id. Headless services
 * and services of another IP family give an empty map.
 */
export function servicePortsOf(svc: Service, family: ProxyIpFamily = 4): Map<string, ServicePortInfo> {
  const out = new Map<string, ServicePortInfo>();
  if (isHeadless(svc) || isIP(svc.spec.clusterIP) !== family) return out;
  const { namespace, name } = svc.metadata;
  const isLoadBalancer = svc.spec.type === 'LoadBalancer';
  const lbIPs = isLoadBalancer ? loadBalancerIPs(svc).filter((ip) => isIP(ip) === family) : [];
  const externalIPs = svc.spec.externalIPs.filter((ip) => isIP(ip) === family);
  const withNodePorts = mayHaveNodePorts(svc.spec.type);
  const hasExternal = withNodePorts || externalIPs.length > 0 || lbIPs.length > 0;
  const affinity: SessionAffinityInfo =
    svc.spec.sessionAffinity === 'ClientIP'
      ? { kind: 'ClientIP', timeoutSeconds: svc.spec.sessionAffinityTimeoutSeconds || DEFAULT_AFFINITY_TIMEOUT_SECONDS }
      : { kind: 'None' };
  for (const port of svc.spec.ports) {
    const id = servicePortId(namespace, name, port.name);
    out.set(id, {
      id,
      namespace,
      name,
      portName: port.name,
      protocol: port.protocol,
      clusterIP: svc.spec.clusterIP,
      port: port.port,
      nodePort: withNodePorts ? port.nodePort : 0,
      externalIPs,
      loadBalancerIPs: lbIPs,
      // Per family, as kube-proxy: a range of the other family does not guard this one.
      loadBalancerSourceRanges: isLoadBalancer ? (svc.spec.loadBalancerSourceRanges ?? []).filter((r) => isIP(r.split('/')[0] ?? '') === family) : [],
      // Only a Local LoadBalancer has one (kube-proxy serves it for exactly those).
      healthCheckNodePort: isLoadBalancer && svc.spec.externalTrafficPolicy === 'Local' ? (svc.spec.healthCheckNodePort ?? 0) : 0,
      sessionAffinity: affinity,
      // Like kube-proxy, the external policy only matters when the service has external entry points.
      externalPolicyLocal: hasExternal && svc.spec.externalTrafficPolicy === 'Local',
      internalPolicyLocal: svc.spec.internalTrafficPolicy === 'Local',
    });
  }
  return out;
}

/**
 * One Endpoints object → endpoints per service port id. Endpoint ports are
 * matched to service ports by port name (targetPort was resolved by the
 * endpoints controller). Lists are sorted by ip:port and de-duplicated.
 */
export function endpointsOf(ep: Endpoints, nodeName: string, family: ProxyIpFamily = 4): Map<string, EndpointInfo[]> {
  const out = new Map<string, Map<string, EndpointInfo>>();
  const { namespace, name } = ep.metadata;
  for (const subset of ep.subsets) {
    for (const port of subset.ports) {
      if (!Number.isInteger(port.port) || port.port < 1 || port.port > 65535) continue;
      const id = servicePortId(namespace, name, port.name);
      let byAddr = out.get(id);
      if (!byAddr) out.set(id, (byAddr = new Map()));
      for (const a of subset.addresses) {
        if (isIP(a.ip) !== family) continue;
        const key = `${a.ip}:${port.port}`;
        const prev = byAddr.get(key);
        // A duplicate address: keep the most usable view of it.
        if (prev && prev.ready) continue;
        byAddr.set(key, {
          ip: a.ip,
          port: port.port,
          nodeName: a.nodeName,
          isLocal: a.nodeName !== '' && a.nodeName === nodeName,
          ready: a.ready,
          serving: a.serving,
          terminating: a.terminating,
        });
      }
    }
  }
  const result = new Map<string, EndpointInfo[]>();
  for (const [id, byAddr] of out) {
    if (byAddr.size === 0) continue;
    result.set(id, [...byAddr.values()].sort(compareEndpoints));
  }
  return result;
}

function compareEndpoints(a: EndpointInfo, b: EndpointInfo): number {
  return a.ip === b.ip ? a.port - b.port : a.ip < b.ip ? -1 : 1;
}
