import { describe, expect, it } from 'vitest';
import type { NodeStatus } from '@svcnet/model';
import * as statev1 from './gen/svcnet/v1/state.pb.js';
import { nodeStatusCodec, nodeStatusToProto } from './node-convert.js';

function status(over: Partial<NodeStatus> = {}): NodeStatus {
  return {
    nodeName: 'node1',
    nodeIPs: ['10.0.0.1'],
    proxyMode: 'iptables',
    version: '0.1.0',
    programmedRevision: 42,
    feedRevision: 45,
    lastSync: { at: new Date('2026-12-03T10:00:00.123Z'), ok: false, full: true, durationMs: 12.5 },
    lastSyncErrors: [{ at: new Date('2026-12-03T10:00:00.123Z'), message: 'iptables apply failed: exit 4' }],
    counts: { services: 3, servicePorts: 4, endpoints: 7 },
    healthy: true,
    healthReason: '',
    feedConnected: true,
    heartbeatIntervalMs: 10_000,
    startedAt: new Date('2026-12-03T09:00:00Z'),
    registeredAt: new Date('2026-12-01T09:00:00Z'),
    reportedAt: new Date('2026-12-03T10:00:01Z'),
    ...over,
  };
}

describe('nodeStatusCodec', () => {
  const cases = [
    { name: 'every field round-trips', value: status() },
    { name: 'no sync yet', value: status({ lastSync: undefined, lastSyncErrors: [], programmedRevision: 0 }) },
    { name: 'several addresses, IPv6 too', value: status({ nodeIPs: ['10.0.0.1', 'fd00::1'] }) },
  ];
  for (const c of cases) it(c.name, () => expect(nodeStatusCodec.decode(nodeStatusCodec.encode(c.value))).toEqual(c.value));

  it('an old record without registeredAt falls back to startedAt', () => {
    const wire = { ...nodeStatusToProto(status()), registeredAt: undefined };
    const decoded = nodeStatusCodec.decode(statev1.NodeStatus.encode(wire).finish());
    expect(decoded.registeredAt.toISOString()).toBe('2026-12-03T09:00:00.000Z');
  });
});
