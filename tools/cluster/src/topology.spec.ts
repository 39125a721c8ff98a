import { describe, expect, it } from 'vitest';
import { nextPodIp, nodePlan, planCluster, podNs, validClusterName, validPodName } from './topology.js';

describe('planCluster', () => {
  it('names every namespace after the cluster and numbers nodes from 1', () => {
    const plan = planCluster('clt', 2);
    expect([plan.wireNs, plan.controlPlane.ns, plan.external.ns, ...plan.nodes.map((n) => n.ns)]).toEqual([
      'clt-net',
      'clt-cp',
      'clt-ext',
      'clt-node1',
      'clt-node2',
    ]);
    expect(plan.nodes[1]).toMatchObject({ name: 'node2', ip: '192.168.77.12', podCidr: '10.244.2.0/24', gateway: '10.244.2.1' });
    expect(plan.controlPlane.ip).toBe('192.168.77.2');
    expect(plan.external.ip).toBe('192.168.77.100');
  });

  const bad = [
    { name: 'empty name', cluster: '', nodes: 1 },
    { name: 'upper case', cluster: 'Clt', nodes: 1 },
    { name: 'too long for interface-safe names', cluster: 'abcdefghijklm', nodes: 1 },
    { name: 'zero nodes', cluster: 'clt', nodes: 0 },
    { name: 'more nodes than wire addresses below the external one', cluster: 'clt', nodes: 81 },
    { name: 'fractional nodes', cluster: 'clt', nodes: 1.5 },
  ];
  it.each(bad)('refuses $name', ({ cluster, nodes }) => {
    expect(() => planCluster(cluster, nodes)).toThrow(RangeError);
  });

  it('keeps node wire addresses clear of the control plane and the external client', () => {
    const ips = planCluster('x', 80).nodes.map((n) => n.ip);
    expect(new Set(ips).size).toBe(80);
    expect(ips).not.toContain('192.168.77.2');
    expect(ips).not.toContain('192.168.77.100');
  });
});

describe('nextPodIp', () => {
  const node = nodePlan('clt', 3);
  const cases = [
    { name: 'first pod gets .2 (the gateway is .1)', used: [], want: '10.244.3.2' },
    { name: 'fills the lowest gap', used: ['10.244.3.2', '10.244.3.4'], want: '10.244.3.3' },
    { name: 'ignores other nodes\u2019 addresses', used: ['10.244.1.2'], want: '10.244.3.2' },
  ];
  it.each(cases)('$name', ({ used, want }) => {
    expect(nextPodIp(node, used)).toBe(want);
  });
  it('throws when the /24 is full', () => {
    const used = Array.from({ length: 253 }, (_, i) => `10.244.3.${i + 2}`);
    expect(() => nextPodIp(node, used)).toThrow(/full/);
  });
});

describe('names', () => {
  const cases = [
    { name: 'simple pod', fn: validPodName, value: 'web-1', want: true },
    { name: 'pod with dot', fn: validPodName, value: 'a.b', want: false },
    { name: 'pod ending in dash', fn: validPodName, value: 'web-', want: false },
    { name: 'pod of 41 chars', fn: validPodName, value: 'a'.repeat(41), want: false },
    { name: 'cluster with digit', fn: validClusterName, value: 'c2', want: true },
    { name: 'cluster with dash (would blur the prefix)', fn: validClusterName, value: 'c-2', want: false },
  ];
  it.each(cases)('$name', ({ fn, value, want }) => {
    expect(fn(value)).toBe(want);
  });
  it('pod namespaces carry the cluster prefix', () => {
    expect(podNs('clt', 'web')).toBe('clt-pod-web');
  });
});
