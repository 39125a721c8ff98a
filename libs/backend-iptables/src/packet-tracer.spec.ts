import { buildEndpoints, buildService } from '@svcnet/proxy-core';
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
  ],
  [
    buildEndpoints({ name: 'web', addresses: ['10.244.1.2@n1', '10.244.2.2@n2'] }),
    buildEndpoints({ name: 'local', addresses: ['10.244.1.5@n1', '10.244.2.5@n2'] }),
    buildEndpoints({ name: 'sticky', addresses: ['10.244.1.7@n1', '10.244.2.7@n2', '10.244.2.8@n2'] }),
    buildEndpoints({ name: 'remote', addresses: ['10.244.2.9@n2'] }),
    buildEndpoints({ name: 'dns', addresses: ['10.244.2.53@n2'], ports: [{ port: 5353, protocol: 'UDP' }] }),
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

const cases: Case[] = [
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

  it('refuses rules it cannot interpret instead of guessing', () => {
    const bad = { nat: new Map([['KUBE-SERVICES', ['-A KUBE-SERVICES -m foo --bar 1 -j ACCEPT']]]), filter: new Map() };
    expect(() => tracePacket(bad, tcp('10.244.1.9', '10.96.0.10', 80))).toThrow(/unsupported option --bar/);
  });
});
