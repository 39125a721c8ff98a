import { ErrorCode, SvcnetError, invalidField, parseBindAddress, type BindAddress } from '@svcnet/model';
import { NodePortRange, RangeKind, ServiceIpRange, cidrsOverlap, parseCidrList } from '@svcnet/ipam';
import {
  natsConnectSettings,
  servingSecurity,
  type NatsConnectSettings,
  type NatsFlagValues,
  type ServingSecurity,
  type ServingTlsFlagValues,
} from '@svcnet/service-runtime';

/** Validated allocator settings. */
export interface AllocatorConfig {
  listen: string;
  /** Mutual TLS (kube-apiserver's flags) or plaintext when asked for explicitly. */
  security: ServingSecurity;
  nats: NatsConnectSettings;
  /** One range, or two (dual stack); the first is the primary family. */
  serviceIpRanges: ServiceIpRange[];
  nodePortRange: NodePortRange;
  /** Optional pool of load-balancer IPs (Cilium LB IPAM / MetalLB style); undefined = none. */
  loadBalancerIpRange: ServiceIpRange | undefined;
  verbosity: number;
  storeTimeoutMs: number;
  kvReplicas: number;
  /** /metrics, /healthz, /livez; undefined = disabled. */
  metricsBindAddress: BindAddress | undefined;
}

/** The raw flag values. */
export interface AllocatorFlags extends NatsFlagValues, ServingTlsFlagValues {
  listen: string;
  serviceClusterIpRange: string;
  serviceNodePortRange: string;
  podNetworkCidr?: string;
  loadBalancerIpRange?: string;
  v: string;
  storeTimeout: string;
  kvReplicas: string;
  metricsBindAddress: string;
}

function positiveInt(text: string, field: string, max: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > max) throw invalidField(field, text, `must be an integer between 1 and ${max}`);
  return n;
}

/**
 * Turns flags into a config. Refuses (with the flag named) a bad range, and a
 * pod network that overlaps the service range: a ClusterIP equal to a pod IP
 * would make the proxy rules capture pod traffic.
 */
export function configFromFlags(flags: AllocatorFlags): AllocatorConfig {
  if (!/^[^\s:]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/.test(flags.listen)) {
    throw invalidField('listen', flags.listen, 'must be HOST:PORT (e.g. 127.0.0.1:9401)');
  }
  const serviceIpRanges = parseCidrList(flags.serviceClusterIpRange, 'service-cluster-ip-range').map(
    (block) => new ServiceIpRange(block, 'service-cluster-ip-range'),
  );
  const nodePortRange = NodePortRange.parse(flags.serviceNodePortRange, 'service-node-port-range');
  if (flags.podNetworkCidr) {
    const podBlocks = parseCidrList(flags.podNetworkCidr, 'pod-network-cidr');
    for (const service of serviceIpRanges) {
      for (const pod of podBlocks) {
        if (cidrsOverlap(service.block, pod)) {
          throw new SvcnetError(
            ErrorCode.InvalidArgument,
            `the service range ${service.text} overlaps the pod network ${pod.cidr}: they must be disjoint`,
            { field: 'pod-network-cidr' },
          );
        }
      }
    }
  }
  let loadBalancerIpRange: ServiceIpRange | undefined;
  if (flags.loadBalancerIpRange) {
    loadBalancerIpRange = ServiceIpRange.parse(flags.loadBalancerIpRange, 'load-balancer-ip-range', RangeKind.LoadBalancerIp);
    const others = [
      ...serviceIpRanges.map((r) => ({ block: r.block, what: 'the service range' })),
      ...(flags.podNetworkCidr ? parseCidrList(flags.podNetworkCidr, 'pod-network-cidr').map((block) => ({ block, what: 'the pod network' })) : []),
    ];
    for (const o of others) {
      if (cidrsOverlap(loadBalancerIpRange.block, o.block)) {
        throw new SvcnetError(ErrorCode.InvalidArgument, `the load-balancer range ${loadBalancerIpRange.text} overlaps ${o.what} ${o.block.cidr}: they must be disjoint`, {
          field: 'load-balancer-ip-range',
        });
      }
    }
  }
  const verbosity = Number(flags.v);
  if (!Number.isInteger(verbosity) || verbosity < 0) throw invalidField('v', flags.v, 'must be a non-negative integer');
  return {
    listen: flags.listen,
    security: servingSecurity(flags),
    nats: natsConnectSettings(flags),
    serviceIpRanges,
    nodePortRange,
    loadBalancerIpRange,
    verbosity,
    storeTimeoutMs: positiveInt(flags.storeTimeout, 'store-timeout-ms', 60_000),
    kvReplicas: positiveInt(flags.kvReplicas, 'kv-replicas', 5),
    metricsBindAddress: parseBindAddress(flags.metricsBindAddress, 'metrics-bind-address'),
  };
}
