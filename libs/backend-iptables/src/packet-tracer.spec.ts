import { buildEndpoints, buildService } from '@svcnet/proxy-core/testing';
import type { NodeConfig } from '@svcnet/proxy-core';
import { describe, expect, it } from 'vitest';
import { endpointChainName } from './names.js';
import { tracePacket } from './packet-tracer.js';
import type { TracePacket } from './packet-tracer.js';
import { renderIptablesPlan } from './render.js';
import { NODE, stateOf } from './test-fixtures.js';

const state = stateOf(
  [
    buildService({ name: 'web', clusterIP: '10.96.0.10', type: 'NodePort', externalIPs: ['192.168.50.100'], ports: [{ nodePort: 30080 }] }),
    buildService({ name: 'local', clusterIP: '10.96.0.20', type: 'NodePort', externalTrafficPolicy: 'Local', ports: [{ nodePort: 30020 }] }),
    buildService({ name: 'sticky', clusterIP: '10.96.0.30', sessionAffinity: 'ClientIP', sessionAffinityTimeoutSeconds: 60 }),
    buildService({ name: 'empty', clusterIP: '10.96.0.40', type: 'NodePort', ports: [{ nodePort: 30040 }] }),
    buildService({ name: 'remote', clusterIP: '10.96.0.50', type: 'NodePort', externalTrafficPolicy: 'Local', ports: [{ nodePort: 30050 }] }),
    buildService({ name: 'dns', clusterIP: '10.96.0.53', ports: [{ port: 53, protocol: 'UDP' }] }),
    // internalTrafficPolicy Local: only ClusterIP traffic keeps to this node.
    buildService({ name: 'itp', clusterIP: '10.96.0.60', type: 'NodePort', internalTrafficPolicy: 'Local', externalIPs: ['192.168.50.160'], ports: [{ nodePort: 30060 }] }),
    buildService({ name: 'itp-remote', clusterIP: '10.96.0.61', internalTrafficPolicy: 'Local' }),
    buildService({ name: 'etp-ext', clusterIP: '10.96.0.70', type: 'NodePort', externalTrafficPolicy: 'Local', externalIPs: ['192.168.50.170'], ports: [{ nodePort: 30070 }] }),
    buildService({ name: 'term', clusterIP: '10.96.0.80' }),
    buildService({ name: 'term-local', clusterIP: '10.96.0.81', type: 'NodePort', externalTrafficPolicy: 'Local', ports: [{ nodePort: 30081 }] }),
    buildService({ name: 'gone', clusterIP: '10.96.0.82' }),
    {
      ...buildService({
        name: 'lb',
        clusterIP: '10.96.0.90',
        type: 'LoadBalancer',
        loadBalancerSourceRanges: ['192.168.60.0/24'],
        externalTrafficPolicy: 'Local',
        healthCheckNodePort: 32000,
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
    buildEndpoints({ name: 'itp', addresses: ['10.244.1.6@n1', '10.244.2.6@n2'] }),
    buildEndpoints({ name: 'itp-remote', addresses: ['10.244.2.61@n2'] }),
    buildEndpoints({ name: 'etp-ext', addresses: ['10.244.2.70@n2'] }),
    // Ready first; serving-terminating only when a policy has no ready one; never not-serving.
    buildEndpoints({ name: 'term', addresses: ['10.244.1.80@n1', '10.244.2.80@n2', '10.244.2.81@n2'], terminating: ['10.244.1.80', '10.244.2.81'], notReady: ['10.244.2.81'] }),
    buildEndpoints({ name: 'term-local', addresses: ['10.244.1.81@n1', '10.244.2.82@n2'], terminating: ['10.244.1.81'] }),
    buildEndpoints({ name: 'gone', addresses: ['10.244.1.82@n1', '10.244.2.83@n2'], terminating: ['10.244.1.82', '10.244.2.83'], notReady: ['10.244.1.82', '10.244.2.83'] }),
    buildEndpoints({ name: 'lb', addresses: ['10.244.1.90@n1', '10.244.2.90@n2'] }),
  ],
);

function plan(config: Partial<NodeConfig> = {}) {
  return renderIptablesPlan({ state, config: { ...NODE, ...config }, full: true, changed: new Set(), lastApplied: undefined });
}

const NODE_IP = '192.168.50.1';
const OUTSIDE = '192.168.60.7';
const WEB = ['10.244.1.2:8080', '10.244.2.2:8080'];
const stickySep = endpointChainName('default/sticky', 'TCP', '10.244.2.7:8080');

interface Case {
  name: string;
  packet: TracePacket;
  config?: Partial<NodeConfig>;
  endpoints: string[];
  masq: 'none' | 'all' | 'some';
  rejected?: boolean;
  dropped?: boolean;
}

const tcp = (src: string, dst: string, dport: number, extra: Partial<TracePacket> = {}): TracePacket => ({ src, dst, dport, protocol: 'TCP', ...extra });

const LB = '203.0.113.9';

const cases: Case[] = [
  { name: 'iTP Local ClusterIP from a pod: this node\'s endpoint only', packet: tcp('10.244.1.9', '10.96.0.60', 80), endpoints: ['10.244.1.6:8080'], masq: 'none' },
  { name: 'iTP Local does not apply to the NodePort', packet: tcp(OUTSIDE, NODE_IP, 30060, { dstLocal: true }), endpoints: ['10.244.1.6:8080', '10.244.2.6:8080'], masq: 'all' },
  { name: 'iTP Local does not apply to an external IP', packet: tcp(OUTSIDE, '192.168.50.160', 80), endpoints: ['10.244.1.6:8080', '10.244.2.6:8080'], masq: 'all' },
  { name: 'iTP Local without a local endpoint: dropped, not rejected', packet: tcp('10.244.1.9', '10.96.0.61', 80), endpoints: [], masq: 'none', dropped: true },
  { name: 'iTP Local without a local endpoint, from the node: dropped', packet: tcp(NODE_IP, '10.96.0.61', 80, { fromNode: true }), endpoints: [], masq: 'none', dropped: true },
  { name: 'eTP Local external IP from outside without a local endpoint: dropped', packet: tcp(OUTSIDE, '192.168.50.170', 80), endpoints: [], masq: 'none', dropped: true },
  { name: 'eTP Local external IP from a pod without a local endpoint: short-circuited', packet: tcp('10.244.1.9', '192.168.50.170', 80), endpoints: ['10.244.2.70:8080'], masq: 'none' },
  { name: 'eTP Local external IP from the node: short-circuited, masqueraded', packet: tcp(NODE_IP, '192.168.50.170', 80, { fromNode: true }), endpoints: ['10.244.2.70:8080'], masq: 'all' },
  { name: 'eTP Local NodePort from a pod without a local endpoint: short-circuited', packet: tcp('10.244.1.9', NODE_IP, 30070, { dstLocal: true }), endpoints: ['10.244.2.70:8080'], masq: 'none' },
  { name: 'eTP Local without a local endpoint, no cluster CIDR: pods are outsiders', config: { clusterCIDR: '' }, packet: tcp('10.244.1.9', NODE_IP, 30070, { dstLocal: true }), endpoints: [], masq: 'none', dropped: true },
  { name: 'terminating: ready endpoints first', packet: tcp('10.244.1.9', '10.96.0.80', 80), endpoints: ['10.244.2.80:8080'], masq: 'none' },
  { name: 'terminating: the local policy falls back to a local serving-terminating endpoint', packet: tcp(OUTSIDE, NODE_IP, 30081, { dstLocal: true }), endpoints: ['10.244.1.81:8080'], masq: 'none' },
  { name: 'terminating: the cluster policy keeps the ready one', packet: tcp('10.244.1.9', '10.96.0.81', 80), endpoints: ['10.244.2.82:8080'], masq: 'none' },
  { name: 'terminating and not serving: rejected like no endpoints', packet: tcp('10.244.1.9', '10.96.0.82', 80), endpoints: [], masq: 'none', rejected: true },
  { name: 'load-balancer IP from an allowed source: local endpoint, client IP kept', packet: tcp('192.168.60.7', LB, 80), endpoints: ['10.244.1.90:8080'], masq: 'none' },
  { name: 'load-balancer IP from another source: dropped by the firewall', packet: tcp('192.168.70.7', LB, 80), endpoints: [], masq: 'none', dropped: true },
  { name: 'load-balancer node port is not subject to source ranges', packet: tcp('192.168.70.7', NODE_IP, 30090, { dstLocal: true }), endpoints: ['10.244.1.90:8080'], masq: 'none' },
  { name: 'localhost NodePort from the node: masqueraded', packet: tcp('127.0.0.1', '127.0.0.1', 30080, { fromNode: true, dstLocal: true }), endpoints: WEB, masq: 'all' },
  {
    name: 'localhost NodePort disabled: untouched',
    config: { localhostNodePorts: false },
    packet: tcp('127.0.0.1', '127.0.0.1', 30080, { fromNode: true, dstLocal: true }),
    endpoints: [],
    masq: 'none',
  },
  {
    name: 'localhost NodePort with --nodeport-addresses excluding loopback: untouched',
    config: { nodePortAddresses: ['192.168.50.0/24'] },
    packet: tcp('127.0.0.1', '127.0.0.1', 30080, { fromNode: true, dstLocal: true }),
    endpoints: [],
    masq: 'none',
  },
  { name: 'martian 127/8 traffic from outside: dropped', packet: tcp('10.244.1.9', '127.0.0.5', 10256, { dstLocal: true }), endpoints: [], masq: 'none', dropped: true },

  { name: 'ClusterIP from a pod: both endpoints, no masquerade', packet: tcp('10.244.1.9', '10.96.0.10', 80), endpoints: WEB, masq: 'none' },
  { name: 'ClusterIP from the node itself (OUTPUT): masqueraded', packet: tcp(NODE_IP, '10.96.0.10', 80, { fromNode: true }), endpoints: WEB, masq: 'all' },
  { name: 'ClusterIP from outside the cluster CIDR: masqueraded', packet: tcp(OUTSIDE, '10.96.0.10', 80), endpoints: WEB, masq: 'all' },
  { name: 'ClusterIP wrong port: untouched', packet: tcp('10.244.1.9', '10.96.0.10', 81), endpoints: [], masq: 'none' },
  { name: 'ClusterIP wrong protocol: untouched', packet: { ...tcp('10.244.1.9', '10.96.0.53', 53), protocol: 'TCP' }, endpoints: [], masq: 'none' },
  { name: 'UDP ClusterIP', packet: { ...tcp('10.244.1.9', '10.96.0.53', 53), protocol: 'UDP' }, endpoints: ['10.244.2.53:5353'], masq: 'none' },
  { name: 'NodePort from outside: masqueraded', packet: tcp(OUTSIDE, NODE_IP, 30080, { dstLocal: true }), endpoints: WEB, masq: 'all' },
  { name: 'NodePort from the node itself', packet: tcp(NODE_IP, NODE_IP, 30080, { fromNode: true, dstLocal: true }), endpoints: WEB, masq: 'all' },
  { name: 'NodePort on a non-local address: untouched', packet: tcp(OUTSIDE, '192.168.50.77', 30080), endpoints: [], masq: 'none' },
  { name: 'external IP from outside: masqueraded', packet: tcp(OUTSIDE, '192.168.50.100', 80), endpoints: WEB, masq: 'all' },
  { name: 'hairpin: a pod reaching itself is masqueraded', packet: tcp('10.244.1.2', '10.96.0.10', 80), endpoints: WEB, masq: 'some' },
  { name: 'ETP Local NodePort from outside: local endpoint only, client IP kept', packet: tcp(OUTSIDE, NODE_IP, 30020, { dstLocal: true }), endpoints: ['10.244.1.5:8080'], masq: 'none' },
  { name: 'ETP Local NodePort from a pod: any endpoint', packet: tcp('10.244.1.9', NODE_IP, 30020, { dstLocal: true }), endpoints: ['10.244.1.5:8080', '10.244.2.5:8080'], masq: 'none' },
  { name: 'ETP Local NodePort from the node: any endpoint, masqueraded', packet: tcp(NODE_IP, NODE_IP, 30020, { fromNode: true, dstLocal: true }), endpoints: ['10.244.1.5:8080', '10.244.2.5:8080'], masq: 'all' },
  { name: 'ETP Local without local endpoints: dropped', packet: tcp(OUTSIDE, NODE_IP, 30050, { dstLocal: true }), endpoints: [], masq: 'none', dropped: true },
  { name: 'ETP Local ClusterIP still uses every endpoint', packet: tcp('10.244.1.9', '10.96.0.50', 80), endpoints: ['10.244.2.9:8080'], masq: 'none' },
  { name: 'affinity: no record, any endpoint', packet: tcp('10.244.1.9', '10.96.0.30', 80), endpoints: ['10.244.1.7:8080', '10.244.2.7:8080', '10.244.2.8:8080'], masq: 'none' },
  {
    name: 'affinity: a recorded client is pinned',
    packet: tcp('10.244.1.9', '10.96.0.30', 80, { recent: { [stickySep]: ['10.244.1.9'] } }),
    endpoints: ['10.244.2.7:8080'],
    masq: 'none',
  },
  {
    name: 'affinity: another client is not pinned',
    packet: tcp('10.244.1.8', '10.96.0.30', 80, { recent: { [stickySep]: ['10.244.1.9'] } }),
    endpoints: ['10.244.1.7:8080', '10.244.2.7:8080', '10.244.2.8:8080'],
    masq: 'none',
  },
  { name: 'no endpoints: ClusterIP rejected', packet: tcp('10.244.1.9', '10.96.0.40', 80), endpoints: [], masq: 'none', rejected: true },
  { name: 'no endpoints: ClusterIP from the node rejected', packet: tcp(NODE_IP, '10.96.0.40', 80, { fromNode: true }), endpoints: [], masq: 'none', rejected: true },
  { name: 'no endpoints: NodePort rejected', packet: tcp(OUTSIDE, NODE_IP, 30040, { dstLocal: true }), endpoints: [], masq: 'none', rejected: true },
  { name: 'masqueradeAll: pod traffic masqueraded', config: { masqueradeAll: true }, packet: tcp('10.244.1.9', '10.96.0.10', 80), endpoints: WEB, masq: 'all' },
  { name: 'no cluster CIDR: pod traffic not masqueraded', config: { clusterCIDR: '' }, packet: tcp(OUTSIDE, '10.96.0.10', 80), endpoints: WEB, masq: 'none' },
  {
    name: 'nodePortAddresses: node port on an allowed address',
    config: { nodePortAddresses: ['192.168.50.0/24'] },
    packet: tcp(OUTSIDE, NODE_IP, 30080, { dstLocal: true }),
    endpoints: WEB,
    masq: 'all',
  },
  {
    name: 'nodePortAddresses: node port on another local address is ignored',
    config: { nodePortAddresses: ['192.168.50.0/24'] },
    packet: tcp(OUTSIDE, '10.0.0.5', 30080, { dstLocal: true }),
    endpoints: [],
    masq: 'none',
  },
];

describe('tracePacket over rendered rules', () => {
  it.each(cases)('$name', (c) => {
    const r = tracePacket(plan(c.config), c.packet);
    expect(r.endpoints).toEqual(c.endpoints);
    const masq = r.alwaysMasqueraded ? 'all' : r.masqueraded ? 'some' : 'none';
    expect(masq).toBe(c.masq);
    expect(r.rejected).toBe(c.rejected ?? false);
    expect(r.dropped).toBe(c.dropped ?? false);
    const total = r.outcomes.reduce((s, o) => s + o.probability, 0);
    expect(total).toBeCloseTo(1, 9);
  });

  it('spreads load evenly (statistic probabilities 1/(n-i))', () => {
    const r = tracePacket(plan(), tcp('10.244.1.9', '10.96.0.30', 80));
    for (const o of r.outcomes) expect(o.probability).toBeCloseTo(1 / 3, 9);
  });

  it('records the client for affinity on the chosen endpoint', () => {
    const r = tracePacket(plan(), tcp('10.244.1.9', '10.96.0.30', 80));
    const o = r.outcomes.find((x) => x.endpoint === '10.244.2.7:8080')!;
    expect(o.recentSet).toEqual([stickySep]);
  });

  it('hairpin masquerades only the path back to the sender', () => {
    const r = tracePacket(plan(), tcp('10.244.1.2', '10.96.0.10', 80));
    const byEp = Object.fromEntries(r.outcomes.map((o) => [o.endpoint, o.masqueraded]));
    expect(byEp).toEqual({ '10.244.1.2:8080': true, '10.244.2.2:8080': false });
  });

  it('accepts the health check node port in filter KUBE-NODEPORTS (ahead of any later DROP)', () => {
    const r = tracePacket(plan(), tcp(OUTSIDE, NODE_IP, 32000, { dstLocal: true }));
    expect(r.outcomes).toHaveLength(1);
    const path = r.outcomes[0]!.path;
    expect(path).toContain('filter/KUBE-NODEPORTS');
    // The ACCEPT ended filter INPUT there: the jumps after it were never taken.
    expect(path).not.toContain('filter/KUBE-FIREWALL');
    const other = tracePacket(plan(), tcp(OUTSIDE, NODE_IP, 32001, { dstLocal: true }));
    expect(other.outcomes[0]!.path).toContain('filter/KUBE-FIREWALL');
  });

  it('refuses rules it cannot interpret instead of guessing', () => {
    const bad = { nat: new Map([['KUBE-SERVICES', ['-A KUBE-SERVICES -m foo --bar 1 -j ACCEPT']]]), filter: new Map() };
    expect(() => tracePacket(bad, tcp('10.244.1.9', '10.96.0.10', 80))).toThrow(/unsupported option --bar/);
  });
});
