import { describe, expect, it } from 'vitest';
import { parseDnsperf, parseVerboseLatencies } from './dnsperf.js';
import { benchServices, queryFile, reverseZoneFile, zoneFile } from './zone-data.js';

const DNSPERF_OUTPUT = `
> NOERROR a.cluster.local A 0.005792
> NXDOMAIN b.cluster.local A 0.000444
> NOERROR c.cluster.local SRV 0.000405

Statistics:

  Queries sent:         1000
  Queries completed:    998 (99.80%)
  Queries lost:         2 (0.20%)

  Response codes:       NOERROR 950 (95.19%), NXDOMAIN 48 (4.81%)
  Average packet size:  request 33, response 33
  Run time (s):         1.000453
  Queries per second:   997.547736

  Average Latency (s):  0.002480 (min 0.000405, max 0.005792)
`;

describe('bench-dns pieces', () => {
  it('reads dnsperf statistics', () => {
    expect(parseDnsperf(DNSPERF_OUTPUT)).toEqual({
      sent: 1000,
      completed: 998,
      lost: 2,
      qps: 997.547736,
      avgLatencyMs: 2.48,
      rcodes: { NOERROR: 950, NXDOMAIN: 48 },
    });
  });

  it('reads per-answer latencies of dnsperf -v in milliseconds', () => {
    expect(parseVerboseLatencies(DNSPERF_OUTPUT).map((x) => Number(x.toFixed(3)))).toEqual([5.792, 0.444, 0.405]);
  });

  it('zone files hold the records svcnet-dns serves for the same services', () => {
    const services = benchServices(200);
    const zone = zoneFile(services).split('\n');
    expect(zone).toContain('svc-0.ns0.svc.cluster.local. IN A 10.96.0.20');
    expect(zone).toContain('_http._tcp.svc-0.ns0.svc.cluster.local. IN SRV 0 100 80 svc-0.ns0.svc.cluster.local.');
    // svc-99 is headless: one A per endpoint at the service and at the endpoint's hostname.
    expect(zone.filter((l) => l.startsWith('svc-99.ns99.svc.cluster.local. IN A '))).toHaveLength(3);
    expect(zone).toContain('10-244-1-43.svc-99.ns99.svc.cluster.local. IN A 10.244.1.43');
    expect(reverseZoneFile(services).split('\n')).toContain('20.0.96.10.in-addr.arpa. IN PTR svc-0.ns0.svc.cluster.local.');
  });

  it('queries: 80 % A, 10 % SRV, 5 % PTR, 5 % names that do not exist', () => {
    const lines = queryFile(benchServices(100), 1000).trim().split('\n');
    const count = (re: RegExp): number => lines.filter((l) => re.test(l)).length;
    expect([count(/^svc-.* A$/), count(/ SRV$/), count(/ PTR$/), count(/^missing-/)]).toEqual([800, 100, 50, 50]);
  });
});
