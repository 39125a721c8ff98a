import { buildEndpoints, buildService } from '@svcnet/proxy-core/testing';
import type { NodeConfig } from '@svcnet/proxy-core';
import { describe, expect, it } from 'vitest';
import { renderNftPlan } from './render.js';
import { NODE, stateOf } from './test-fixtures.js';
import { traceNftPacket, type NftTracePacket } from './tracer.js';

const state = stateOf(
  [
    buildService({ name: 'web', clusterIP: '10.96.0.10', type: 'NodePort', externalIPs: ['192.168.50.100'], ports: [{ nodePort: 30080 }] }),
    buildService({ name: 'local', clusterIP: '10.96.0.20', type: 'NodePort', externalTrafficPolicy: 'Local', ports: [{ nodePort: 30020 }] }),
    buildService({ name: 'sticky', clusterIP: '10.96.0.30', type: 'NodePort', sessionAffinity: 'ClientIP', sessionAffinityTimeoutSeconds: 60, ports: [{ nodePort: 30030 }] }),
    buildService({ name: 'empty', clusterIP: '10.96.0.40', type: 'NodePort', ports: [{ nodePort: 30040 }] }),
    buildService({ name: 'remote', clusterIP: '10.96.0.50', type: 'NodePort', externalTrafficPolicy: 'Local', ports: [{ nodePort: 30050 }] }),
    buildService({ name: 'dns', clusterIP: '10.96.0.53', ports: [{ port: 53, protocol: 'UDP' }] }),
    buildService({ name: 'itp', clusterIP: '10.96.0.60', internalTrafficPolicy: 'Local' }),
    buildService({ name: 'three', clusterIP: '10.96.0.70' }),
    buildService({ name: 'itp-np', clusterIP: '10.96.0.61', type: 'NodePort', internalTrafficPolicy: 'Local', externalIPs: ['192.168.50.161'], ports: [{ nodePort: 30061 }] }),
    buildService({ name: 'etp-ext', clusterIP: '10.96.0.71', type: 'NodePort', externalTrafficPolicy: 'Local', externalIPs: ['192.168.50.171'], ports: [{ nodePort: 30071 }] }),
    buildService({ name: 'term', clusterIP: '10.96.0.80' }),
    buildService({ name: 'term-local', clusterIP: '10.96.0.81', type: 'NodePort', externalTrafficPolicy: 'Local', ports: [{ nodePort: 30081 }] }),
    buildService({ name: 'gone', clusterIP: '10.96.0.82' }),
    buildService({ name: 'sticky-local', clusterIP: '10.96.0.83', type: 'NodePort', externalTrafficPolicy: 'Local', sessionAffinity: 'ClientIP', sessionAffinityTimeoutSeconds: 60, ports: [{ nodePort: 30083 }] }),
    {
      ...buildService({
        name: 'lb',
        clusterIP: '10.96.0.90',
        type: 'LoadBalancer',
        loadBalancerSourceRanges: ['192.168.60.0/24'],
        externalTrafficPolicy: 'Local',
        ports: [{ nodePort: 30090 }],
      }),
      status: { loadBalancer: { ingress: [{ ip: '203.0.113.9' }] } },
    },
  ],
  [
    buildEndpoints({ name: 'web', addresses: ['10.244.1.2@n1', '10.244.2.2@n2'] }),
    buildEndpoints({ name: 'local', addresses: ['10.244.1.5@n1', '10.244.2.5@n2'] }),
    buildEndpoints({ name: 'sticky', addresses: ['10.244.1.7@n1', '10.244.2.7@n2', '10.244.2.8@n2'] }),
    buildEndpoints({ name: 'remote', addresses: ['10.244.2.9@n2'] }),
    buildEndpoints({ name: 'dns', addresses: ['10.244.2.53@n2'], ports: [{ port: 5353, protocol: 'UDP' }] }),
    buildEndpoints({ name: 'itp', addresses: ['10.244.2.60@n2'] }),
    buildEndpoints({ name: 'three', addresses: ['10.244.1.70@n1', '10.244.2.70@n2', '10.244.2.71@n2'] }),
    buildEndpoints({ name: 'itp-np', addresses: ['10.244.1.61@n1', '10.244.2.61@n2'] }),
    buildEndpoints({ name: 'etp-ext', addresses: ['10.244.2.72@n2'] }),
    buildEndpoints({ name: 'term', addresses: ['10.244.1.80@n1', '10.244.2.80@n2', '10.244.2.81@n2'], terminating: ['10.244.1.80', '10.244.2.81'], notReady: ['10.244.2.81'] }),
    buildEndpoints({ name: 'term-local', addresses: ['10.244.1.81@n1', '10.244.2.82@n2'], terminating: ['10.244.1.81'] }),
    buildEndpoints({ name: 'gone', addresses: ['10.244.1.82@n1'], terminating: ['10.244.1.82'], notReady: ['10.244.1.82'] }),
    buildEndpoints({ name: 'sticky-local', addresses: ['10.244.2.83@n2'] }),
    buildEndpoints({ name: 'lb', addresses: ['10.244.1.90@n1', '10.244.2.90@n2'] }),
  ],
);

const plan = (config: Partial<NodeConfig> = {}) => renderNftPlan({ state, config: { ...NODE, ...config }, full: true });

const NODE_IP = '192.168.50.1';
const OUTSIDE = '192.168.60.7';
const WEB = ['10.244.1.2:8080', '10.244.2.2:8080'];
const STICKY = ['10.244.1.7:8080', '10.244.2.7:8080', '10.244.2.8:8080'];

interface Case {
  name: string;
  packet: NftTracePacket;
  config?: Partial<NodeConfig>;
  endpoints: string[];
  masq: 'none' | 'all' | 'some';
  rejected?: boolean;
  dropped?: boolean;
}

const tcp = (src: string, dst: string, dport: number, extra: Partial<NftTracePacket> = {}): NftTracePacket => ({ src, dst, dport, protocol: 'TCP', ...extra });

const cases: Case[] = [
  { name: 'ClusterIP from a pod: both endpoints, no masquerade', packet: tcp('10.244.1.9', '10.96.0.10', 80), endpoints: WEB, masq: 'none' },
  { name: 'ClusterIP from the node itself (output hook): masqueraded', packet: tcp(NODE_IP, '10.96.0.10', 80, { fromNode: true }), endpoints: WEB, masq: 'all' },
  { name: 'ClusterIP from outside the cluster CIDR: masqueraded', packet: tcp(OUTSIDE, '10.96.0.10', 80), endpoints: WEB, masq: 'all' },
  { name: 'ClusterIP wrong port: rejected', packet: tcp('10.244.1.9', '10.96.0.10', 81), endpoints: [], masq: 'none', rejected: true },
  { name: 'ClusterIP wrong protocol: rejected', packet: tcp('10.244.1.9', '10.96.0.53', 53), endpoints: [], masq: 'none', rejected: true },
  { name: 'ClusterIP wrong port from the node: rejected', packet: tcp(NODE_IP, '10.96.0.10', 81, { fromNode: true }), endpoints: [], masq: 'none', rejected: true },
  { name: 'unused address of the service CIDR: dropped', packet: tcp('10.244.1.9', '10.96.0.99', 80), config: { serviceCIDRs: ['10.96.0.0/16'] }, endpoints: [], masq: 'none', dropped: true },
  { name: 'unused address, no service CIDR known: untouched', packet: tcp('10.244.1.9', '10.96.0.99', 80), endpoints: [], masq: 'none' },
  { name: 'UDP ClusterIP', packet: { ...tcp('10.244.1.9', '10.96.0.53', 53), protocol: 'UDP' }, endpoints: ['10.244.2.53:5353'], masq: 'none' },
  { name: 'three endpoints: each reachable', packet: tcp('10.244.1.9', '10.96.0.70', 80), endpoints: ['10.244.1.70:8080', '10.244.2.70:8080', '10.244.2.71:8080'], masq: 'none' },
  { name: 'NodePort from outside: masqueraded', packet: tcp(OUTSIDE, NODE_IP, 30080, { dstLocal: true }), endpoints: WEB, masq: 'all' },
  { name: 'NodePort from the node itself', packet: tcp(NODE_IP, NODE_IP, 30080, { fromNode: true, dstLocal: true }), endpoints: WEB, masq: 'all' },
  { name: 'NodePort on a non-local address: untouched', packet: tcp(OUTSIDE, '192.168.50.77', 30080), endpoints: [], masq: 'none' },
  { name: 'NodePort on 127.0.0.1: untouched (as kube-proxy nftables)', packet: tcp('127.0.0.1', '127.0.0.1', 30080, { fromNode: true, dstLocal: true }), endpoints: [], masq: 'none' },
  { name: 'external IP from outside: masqueraded', packet: tcp(OUTSIDE, '192.168.50.100', 80), endpoints: WEB, masq: 'all' },
  { name: 'external IP (eTP Cluster) from a pod: masqueraded, as kube-proxy', packet: tcp('10.244.1.9', '192.168.50.100', 80), endpoints: WEB, masq: 'all' },
  { name: 'hairpin: a pod reaching itself is masqueraded', packet: tcp('10.244.1.2', '10.96.0.10', 80), endpoints: WEB, masq: 'some' },
  { name: 'hairpin through an external IP (masqueraded like all eTP Cluster external traffic)', packet: tcp('10.244.1.2', '192.168.50.100', 80), endpoints: WEB, masq: 'all' },
  { name: 'eTP Local NodePort from outside: local endpoint only, client IP kept', packet: tcp(OUTSIDE, NODE_IP, 30020, { dstLocal: true }), endpoints: ['10.244.1.5:8080'], masq: 'none' },
  { name: 'eTP Local NodePort from a pod: every endpoint, hairpin masqueraded', packet: tcp('10.244.1.5', NODE_IP, 30020, { dstLocal: true }), endpoints: ['10.244.1.5:8080', '10.244.2.5:8080'], masq: 'some' },
  { name: 'eTP Local NodePort from the node: every endpoint, masqueraded', packet: tcp(NODE_IP, NODE_IP, 30020, { fromNode: true, dstLocal: true }), endpoints: ['10.244.1.5:8080', '10.244.2.5:8080'], masq: 'all' },
  { name: 'eTP Local NodePort from a pod without a local endpoint: short-circuited', packet: tcp('10.244.1.9', NODE_IP, 30050, { dstLocal: true }), endpoints: ['10.244.2.9:8080'], masq: 'none' },
  { name: 'eTP Local without a local endpoint, no cluster CIDR: pods are outsiders', config: { clusterCIDR: '' }, packet: tcp('10.244.1.9', NODE_IP, 30050, { dstLocal: true }), endpoints: [], masq: 'none', dropped: true },
  { name: 'eTP Local external IP from outside without a local endpoint: dropped', packet: tcp(OUTSIDE, '192.168.50.171', 80), endpoints: [], masq: 'none', dropped: true },
  { name: 'eTP Local external IP from a pod: short-circuited', packet: tcp('10.244.1.9', '192.168.50.171', 80), endpoints: ['10.244.2.72:8080'], masq: 'none' },
  { name: 'eTP Local external IP from the node: short-circuited, masqueraded', packet: tcp(NODE_IP, '192.168.50.171', 80, { fromNode: true }), endpoints: ['10.244.2.72:8080'], masq: 'all' },
  { name: 'iTP Local ClusterIP: this node\'s endpoint only', packet: tcp('10.244.1.9', '10.96.0.61', 80), endpoints: ['10.244.1.61:8080'], masq: 'none' },
  { name: 'iTP Local does not apply to the NodePort', packet: tcp(OUTSIDE, NODE_IP, 30061, { dstLocal: true }), endpoints: ['10.244.1.61:8080', '10.244.2.61:8080'], masq: 'all' },
  { name: 'iTP Local does not apply to an external IP', packet: tcp(OUTSIDE, '192.168.50.161', 80), endpoints: ['10.244.1.61:8080', '10.244.2.61:8080'], masq: 'all' },
  { name: 'terminating: ready endpoints first', packet: tcp('10.244.1.9', '10.96.0.80', 80), endpoints: ['10.244.2.80:8080'], masq: 'none' },
  { name: 'terminating: the local policy falls back to a local serving-terminating endpoint', packet: tcp(OUTSIDE, NODE_IP, 30081, { dstLocal: true }), endpoints: ['10.244.1.81:8080'], masq: 'none' },
  { name: 'terminating: the cluster policy keeps the ready one', packet: tcp('10.244.1.9', '10.96.0.81', 80), endpoints: ['10.244.2.82:8080'], masq: 'none' },
  { name: 'terminating and not serving: rejected like no endpoints', packet: tcp('10.244.1.9', '10.96.0.82', 80), endpoints: [], masq: 'none', rejected: true },
  { name: 'affinity + eTP Local from outside without a local endpoint: dropped', packet: tcp(OUTSIDE, NODE_IP, 30083, { dstLocal: true }), endpoints: [], masq: 'none', dropped: true },
  { name: 'affinity + eTP Local from a pod: short-circuited', packet: tcp('10.244.1.9', NODE_IP, 30083, { dstLocal: true }), endpoints: ['10.244.2.83:8080'], masq: 'none' },
  { name: 'load-balancer IP from an allowed source: local endpoint, client IP kept', packet: tcp('192.168.60.7', '203.0.113.9', 80), endpoints: ['10.244.1.90:8080'], masq: 'none' },
  { name: 'load-balancer IP from another source: dropped before DNAT', packet: tcp('192.168.70.7', '203.0.113.9', 80), endpoints: [], masq: 'none', dropped: true },
  { name: 'load-balancer IP from a pod outside the source ranges: dropped (as kube-proxy)', packet: tcp('10.244.1.9', '203.0.113.9', 80), endpoints: [], masq: 'none', dropped: true },
  { name: 'load-balancer node port is not subject to source ranges', packet: tcp('192.168.70.7', NODE_IP, 30090, { dstLocal: true }), endpoints: ['10.244.1.90:8080'], masq: 'none' },
  { name: 'eTP Local ClusterIP still reaches every endpoint', packet: tcp('10.244.1.9', '10.96.0.20', 80), endpoints: ['10.244.1.5:8080', '10.244.2.5:8080'], masq: 'none' },
  { name: 'eTP Local NodePort without a local endpoint: dropped', packet: tcp(OUTSIDE, NODE_IP, 30050, { dstLocal: true }), endpoints: [], masq: 'none', dropped: true },
  { name: 'service without endpoints: ClusterIP rejected', packet: tcp('10.244.1.9', '10.96.0.40', 80), endpoints: [], masq: 'none', rejected: true },
  { name: 'service without endpoints: NodePort rejected', packet: tcp(OUTSIDE, NODE_IP, 30040, { dstLocal: true }), endpoints: [], masq: 'none', rejected: true },
  { name: 'service without endpoints: from the node itself, rejected', packet: tcp(NODE_IP, '10.96.0.40', 80, { fromNode: true }), endpoints: [], masq: 'none', rejected: true },
  { name: 'iTP Local without a local endpoint: dropped, not rejected', packet: tcp('10.244.1.9', '10.96.0.60', 80), endpoints: [], masq: 'none', dropped: true },
  { name: 'iTP Local without a local endpoint, from the node: dropped', packet: tcp(NODE_IP, '10.96.0.60', 80, { fromNode: true }), endpoints: [], masq: 'none', dropped: true },
  { name: 'ClientIP affinity, new client: any endpoint', packet: tcp('10.244.1.9', '10.96.0.30', 80), endpoints: STICKY, masq: 'none' },
  { name: 'ClientIP affinity NodePort: masqueraded, any endpoint', packet: tcp(OUTSIDE, NODE_IP, 30030, { dstLocal: true }), endpoints: STICKY, masq: 'all' },
  { name: '--masquerade-all: pod traffic masqueraded', packet: tcp('10.244.1.9', '10.96.0.10', 80), config: { masqueradeAll: true }, endpoints: WEB, masq: 'all' },
  { name: 'no cluster CIDR: outside traffic not masqueraded', packet: tcp(OUTSIDE, '10.96.0.10', 80), config: { clusterCIDR: '' }, endpoints: WEB, masq: 'none' },
  { name: '--nodeport-addresses: NodePort on an address inside', packet: tcp(OUTSIDE, NODE_IP, 30080, { dstLocal: true }), config: { nodePortAddresses: ['192.168.50.0/24'] }, endpoints: WEB, masq: 'all' },
  { name: '--nodeport-addresses: NodePort on a local address outside: untouched', packet: tcp(OUTSIDE, '192.168.77.1', 30080, { dstLocal: true }), config: { nodePortAddresses: ['192.168.50.0/24'] }, endpoints: [], masq: 'none' },
];

describe('traceNftPacket', () => {
  it.each(cases)('$name', (c) => {
    const r = traceNftPacket(plan(c.config), c.packet);
    expect(r.endpoints).toEqual(c.endpoints);
    expect(r.rejected).toBe(c.rejected ?? false);
    expect(r.dropped).toBe(c.dropped ?? false);
    const masq = r.alwaysMasqueraded ? 'all' : r.masqueraded ? 'some' : 'none';
    expect(masq).toBe(c.masq);
    const total = r.outcomes.reduce((s, o) => s + o.probability, 0);
    expect(total).toBeCloseTo(1, 9);
  });

  it('spreads evenly: every endpoint 1/N (one numgen draw indexes the elements)', () => {
    const r = traceNftPacket(plan(), tcp('10.244.1.9', '10.96.0.70', 80));
    for (const o of r.outcomes) expect(o.probability).toBeCloseTo(1 / 3, 9);
    const sticky = traceNftPacket(plan(), tcp('10.244.1.9', '10.96.0.30', 80));
    for (const o of sticky.outcomes) expect(o.probability).toBeCloseTo(1 / 3, 9);
  });

  it('ClientIP affinity: a client in an endpoint\'s set goes there, and is recorded again', () => {
    const p = plan();
    const fresh = traceNftPacket(p, tcp('10.244.1.9', '10.96.0.30', 80));
    const to = fresh.outcomes.find((o) => o.endpoint === '10.244.2.7:8080')!;
    expect(to.affinitySet).toHaveLength(1);
    const pinned = traceNftPacket(p, tcp('10.244.1.9', '10.96.0.30', 80, { affinity: { [to.affinitySet[0]!]: ['10.244.1.9'] } }));
    expect(pinned.endpoints).toEqual(['10.244.2.7:8080']);
    expect(pinned.outcomes).toHaveLength(1);
  });

  it('the common service goes through shared chains only', () => {
    const r = traceNftPacket(plan(), tcp('10.244.1.9', '10.96.0.10', 80));
    expect(r.outcomes[0]!.path.slice(0, 5)).toEqual(['filter-prerouting', 'firewall-check', 'nat-prerouting', 'services', 'cluster-tcp-2']);
  });
});
