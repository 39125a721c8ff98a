/**
 * A node inside the IPVS test VM: the VM's root namespace is the node
 * (node IP 10.0.2.1), `h6-client` an outside client behind a veth, and
 * `h6-pod-<x>` pods running busybox httpd on :8080 that answer their own name.
 */
import { type EndpointInfo, type NodeConfig } from '@svcnet/proxy-core';
import { buildEndpoint } from '@svcnet/proxy-core/testing';
import type { NetExec } from '@svcnet/netexec';

export const NODE_IP = '10.0.2.1';
export const CLIENT_NS = 'h6-client';

export const nodeConfig: NodeConfig = {
  nodeName: 'vm',
  nodeIPs: [NODE_IP],
  clusterCIDR: '10.244.0.0/16',
  masqueradeAll: false,
  nodePortAddresses: [],
};

export interface Pod {
  name: string;
  ns: string;
  ip: string;
}

export const pods: Pod[] = ['a', 'b', 'c'].map((x, i) => ({ name: `pod-${x}`, ns: `h6-pod-${x}`, ip: `10.244.${i + 1}.2` }));

/** Creates the client and pod namespaces and starts the servers, in one call. */
export async function setUpLab(exec: NetExec): Promise<void> {
  const lines = [
    'set -e',
    'ip() { /usr/sbin/ip "$@"; }',
    `ip netns add ${CLIENT_NS}`,
    `ip link add veth-client type veth peer name eth0 netns ${CLIENT_NS}`,
    `ip addr add ${NODE_IP}/24 dev veth-client; ip link set veth-client up`,
    `ip -n ${CLIENT_NS} link set lo up; ip -n ${CLIENT_NS} addr add 10.0.2.2/24 dev eth0; ip -n ${CLIENT_NS} link set eth0 up`,
    `ip -n ${CLIENT_NS} route add default via ${NODE_IP}`,
  ];
  pods.forEach((p, i) => {
    const host = `10.244.${i + 1}.1`;
    lines.push(
      `ip netns add ${p.ns}`,
      `ip link add veth-${p.name} type veth peer name eth0 netns ${p.ns}`,
      `ip addr add ${host}/24 dev veth-${p.name}; ip link set veth-${p.name} up`,
      `ip -n ${p.ns} link set lo up; ip -n ${p.ns} addr add ${p.ip}/24 dev eth0; ip -n ${p.ns} link set eth0 up`,
      `ip -n ${p.ns} route add default via ${host}`,
      `mkdir -p /www/${p.name}; echo ${p.name} > /www/${p.name}/index.html`,
      `ip netns exec ${p.ns} httpd -p 8080 -h /www/${p.name}`,
    );
  });
  await exec.run({ file: 'sh', args: ['-s'], input: lines.join('\n') + '\n', timeoutMs: 300_000 });
}

/**
 * `count` HTTP requests from the client namespace (or the node itself when
 * ns is undefined); returns each answer: a pod name, or `ERR:<nc's complaint>`.
 */
export async function request(exec: NetExec, ip: string, port: number, count = 1, ns: string | undefined = CLIENT_NS): Promise<string[]> {
  const one = `r=$(printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${ip} ${port} 2>&1 | tail -n1); echo "\${r:-ERR:empty}"`;
  const script = `for i in $(seq ${count}); do ${one}; done`;
  const r = await exec.run({ file: 'sh', args: ['-c', script], netns: ns, allowFailure: true, timeoutMs: 180_000 });
  return r.stdout
    .trim()
    .split('\n')
    .map((l) => (/^pod-/.test(l) ? l : `ERR:${l}`));
}

/** Counts answers per pod name, e.g. { 'pod-a': 5, 'pod-b': 5 }. */
export function tally(answers: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const a of answers) out[a] = (out[a] ?? 0) + 1;
  return out;
}

/** proxy-core's service-port builder, under the name this lab's tests use. */
export { buildServicePort as servicePort } from '@svcnet/proxy-core/testing';

/** An endpoint on this node (the VM) unless `extra` says otherwise (a pod of the VM can pose as another node's). */
export function endpoint(ip: string, port = 8080, extra: Partial<EndpointInfo> = {}): EndpointInfo {
  return buildEndpoint(ip, port, { nodeName: 'vm', isLocal: true, ...extra });
}
