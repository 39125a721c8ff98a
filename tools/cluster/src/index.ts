// Public API of @svcnet/cluster: named exports only.
export { Cluster, defaultRepoRoot } from './cluster.js';
export type { ClusterUpOptions, ClusterExecOptions } from './cluster.js';
export { PodCommands, parsePortSpec, parseLabels } from './pods.js';
export type { AddPodOptions, PodPort } from './pods.js';
export { AppBundle, bundlePath } from './components.js';
export { CLUSTER_DOMAIN, DNS_PORT, DNS_METRICS_PORT, KUBE_DNS, NETNS_ETC, resolvConf, tenthAddress } from './dns.js';
export type { ExtraArgs, AppName } from './components.js';
export { ProxyModeName, IptablesVariant, defaultStateDir, readState } from './state-file.js';
export type { ClusterState, PodRecord, ProcessRecord } from './state-file.js';
export {
  planCluster,
  nodePlan,
  podNs,
  nextPodIp,
  AgentPorts,
  ControlPlanePorts,
  POD_NETWORK_CIDR,
  SERVICE_CLUSTER_IP_RANGE,
  SERVICE_NODE_PORT_RANGE,
} from './topology.js';
export type { ClusterPlan, NodePlan } from './topology.js';
