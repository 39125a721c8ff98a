import { buildEndpoint, buildServicePort } from '@svcnet/proxy-core/testing';
import { describe, expect, it } from 'vitest';
import { serviceReachProblems } from './service-reach.js';
import type { ReachTrace } from './service-reach.js';

const svc = buildServicePort({ name: 'web', clusterIP: '10.96.0.1', port: 80, nodePort: 30080 });
const eps = [buildEndpoint('10.244.1.2', 8080, { isLocal: true }), buildEndpoint('10.244.2.2', 8080, { ready: false, serving: false })];
const ok = (endpoints: string[], extra: Partial<ReachTrace> = {}): ReachTrace => ({ endpoints, rejected: false, dropped: false, masqueraded: false, alwaysMasqueraded: false, ...extra });

interface Case {
  name: string;
  cluster: ReachTrace;
  nodePort: ReachTrace;
  problems: RegExp[];
}

const cases: Case[] = [
  { name: 'ready endpoints only, node port masqueraded: nothing to report', cluster: ok(['10.244.1.2:8080']), nodePort: ok(['10.244.1.2:8080'], { masqueraded: true, alwaysMasqueraded: true }), problems: [] },
  {
    name: 'a not-ready endpoint reached',
    cluster: ok(['10.244.1.2:8080', '10.244.2.2:8080']),
    nodePort: ok(['10.244.1.2:8080'], { masqueraded: true, alwaysMasqueraded: true }),
    problems: [/cluster IP reaches \[10.244.1.2:8080 10.244.2.2:8080\], want \[10.244.1.2:8080\]/],
  },
  { name: 'pod traffic masqueraded, node port not', cluster: ok(['10.244.1.2:8080'], { masqueraded: true }), nodePort: ok(['10.244.1.2:8080']), problems: [/a pod's traffic is masqueraded/, /node port masqueraded=false/] },
];

describe('serviceReachProblems', () => {
  it.each(cases)('$name', (c) => {
    const problems = serviceReachProblems({ trace: (p) => (p.dstLocal ? c.nodePort : c.cluster), service: svc, endpoints: eps, nodeIP: '192.168.50.1' });
    expect(problems).toHaveLength(c.problems.length);
    c.problems.forEach((re, i) => expect(problems[i]).toMatch(re));
  });
});
