import type { NetnsLab } from '@svcnet/netexec';
import { WIRE_BITS, type ClusterPlan, type NodePlan } from './topology.js';

/**
 * Builds the cluster's namespaces and links. Every link is created between two
 * namespaces of the lab (`ip -n`), so the root namespace gets no link, route
 * or sysctl change.
 */
export async function buildNetwork(lab: NetnsLab, plan: ClusterPlan): Promise<void> {
  await lab.addNamespace('net');
  await lab.addBridge(plan.wireNs, plan.wireBridge);

  const onWire = async (ns: string, wireVeth: string, ip: string): Promise<void> => {
    await lab.addVeth({ ns: plan.wireNs, name: wireVeth, peerNs: ns, peerName: 'eth0' });
    await lab.attachToBridge(plan.wireNs, wireVeth, plan.wireBridge);
    await lab.addAddress(ns, 'eth0', `${ip}/${WIRE_BITS}`);
  };

  await lab.addNamespace('cp');
  await onWire(plan.controlPlane.ns, plan.controlPlane.wireVeth, plan.controlPlane.ip);
  await lab.addNamespace('ext');
  await onWire(plan.external.ns, plan.external.wireVeth, plan.external.ip);

  for (const node of plan.nodes) {
    await lab.addNamespace(`node${node.index}`);
    await onWire(node.ns, node.wireVeth, node.ip);
    await lab.addBridge(node.ns, 'cbr0');
    await lab.addAddress(node.ns, 'cbr0', `${node.gateway}/24`);
    // Bridged pod→ClusterIP→pod replies must pass iptables to be un-DNATed
    // (DATAPLANE-LAB.md); each namespace has its own copy of this switch.
    await lab.sysctl(node.ns, 'net.bridge.bridge-nf-call-iptables', '1');
    await lab.sysctl(node.ns, 'net.ipv4.ip_forward', '1');
  }
  for (const node of plan.nodes) {
    for (const other of plan.nodes) {
      if (other.index !== node.index) await lab.addRoute(node.ns, other.podCidr, other.ip);
    }
    // Real nodes have a default route: without one, a packet to a ClusterIP that no rule
    // DNATs fails routing before the filter table's REJECT for services without endpoints.
    await lab.addRoute(node.ns, 'default', plan.external.ip);
    // svcnet-dns runs in the control plane; pods' queries reach it un-masqueraded (DNAT only),
    // so its answers need a way back to every pod CIDR, as a real control plane has.
    await lab.addRoute(plan.controlPlane.ns, node.podCidr, node.ip);
  }
}

/** Parameters of {@link addPodNetwork}. */
export interface PodNetworkParams {
  node: NodePlan;
  ns: string;
  hostVeth: string;
  ip: string;
}

/** A pod namespace with eth0 on its node's cbr0 (hairpin on) and a default route to the node. */
export async function addPodNetwork(lab: NetnsLab, p: PodNetworkParams): Promise<void> {
  const short = p.ns.slice(lab.prefix.length + 1);
  await lab.addNamespace(short);
  // Two batches instead of eight `ip` processes: pods are added by the hundred in benchmarks.
  await lab.ipBatch(p.node.ns, [
    ['link', 'add', p.hostVeth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', p.ns],
    ['link', 'set', p.hostVeth, 'master', 'cbr0'],
    ['link', 'set', p.hostVeth, 'type', 'bridge_slave', 'hairpin', 'on'],
    ['link', 'set', p.hostVeth, 'up'],
  ]);
  await lab.ipBatch(p.ns, [
    ['addr', 'add', `${p.ip}/24`, 'dev', 'eth0'],
    ['link', 'set', 'eth0', 'up'],
    ['route', 'add', 'default', 'via', p.node.gateway],
  ]);
}
