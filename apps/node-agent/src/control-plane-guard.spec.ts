import { describe, expect, it } from 'vitest';
import { buildService } from '@svcnet/proxy-core/testing';
import { guardService, parseServerList, resolveControlPlane, type ControlPlaneEndpoint } from './control-plane-guard.js';

const nats: ControlPlaneEndpoint[] = [{ ip: '192.168.77.2', port: 4222, source: 'nats://192.168.77.2:4222' }];

describe('parseServerList', () => {
  const cases: { name: string; urls: string; want: { host: string; port: number }[] }[] = [
    { name: 'nats URLs', urls: 'nats://10.0.0.1:4222,nats://10.0.0.2:4223', want: [{ host: '10.0.0.1', port: 4222 }, { host: '10.0.0.2', port: 4223 }] },
    { name: 'tls URL without a port', urls: 'tls://nats.example', want: [{ host: 'nats.example', port: 4222 }] },
    { name: 'host:port without scheme', urls: ' 10.0.0.3:5222 ', want: [{ host: '10.0.0.3', port: 5222 }] },
    { name: 'IPv6 literal', urls: 'nats://[fd00::1]:4222', want: [{ host: 'fd00::1', port: 4222 }] },
  ];
  for (const c of cases) {
    it(c.name, () => expect(parseServerList(c.urls).map(({ host, port }) => ({ host, port }))).toEqual(c.want));
  }
  it('resolves names to every address', async () => {
    const eps = await resolveControlPlane('nats://nats.cp:4222,10.0.0.9', async () => ['10.0.0.7', '10.0.0.8']);
    expect(eps.map((e) => `${e.ip}:${e.port}`)).toEqual(['10.0.0.7:4222', '10.0.0.8:4222', '10.0.0.9:4222']);
  });
});

describe('guardService', () => {
  const base = () => buildService({ name: 'web', ports: [{ port: 4222 }] });
  const cases: { name: string; svc: () => ReturnType<typeof base>; nodeIPs?: string[]; dropped: RegExp[]; check?: (s: ReturnType<typeof base>) => void }[] = [
    { name: 'an ordinary service is untouched', svc: base, dropped: [] },
    {
      name: 'an external IP on the NATS address and port is taken out',
      svc: () => ({ ...base(), spec: { ...base().spec, externalIPs: ['192.168.77.2', '192.0.2.5'] } }),
      dropped: [/externalIP 192\.168\.77\.2 \(it would capture nats:\/\/192\.168\.77\.2:4222\)/],
      check: (s) => expect(s.spec.externalIPs).toEqual(['192.0.2.5']),
    },
    {
      name: 'the same address on another port stays',
      svc: () => {
        return buildService({ name: 'web', externalIPs: ['192.168.77.2'] });
      },
      dropped: [],
    },
    {
      name: 'a cluster IP equal to a NATS server drops that port',
      svc: () => buildService({ name: 'web', clusterIP: '192.168.77.2', ports: [{ name: 'a', port: 4222 }, { name: 'b', port: 80 }] }),
      dropped: [/port 4222 on cluster IP 192\.168\.77\.2/],
      check: (s) => expect(s.spec.ports.map((p) => p.port)).toEqual([80]),
    },
    {
      name: 'a node port equal to a NATS port on this node is cleared',
      svc: () => buildService({ name: 'web', type: 'NodePort', ports: [{ port: 80, nodePort: 4222 }] }),
      nodeIPs: ['192.168.77.2'],
      dropped: [/node port 4222/],
      check: (s) => expect(s.spec.ports[0]!.nodePort).toBe(0),
    },
    {
      name: 'the same node port on a node without that NATS server stays',
      svc: () => buildService({ name: 'web', type: 'NodePort', ports: [{ port: 80, nodePort: 4222 }] }),
      nodeIPs: ['192.168.77.11'],
      dropped: [],
    },
    {
      name: 'UDP on the NATS port is harmless',
      svc: () => {
        return buildService({ name: 'web', ports: [{ port: 4222, protocol: 'UDP' }], externalIPs: ['192.168.77.2'] });
      },
      dropped: [],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const original = c.svc();
      const r = guardService(original, nats, c.nodeIPs ?? []);
      expect(r.dropped).toHaveLength(c.dropped.length);
      c.dropped.forEach((re, i) => expect(r.dropped[i]).toMatch(re));
      if (c.dropped.length === 0) expect(r.service).toBe(original);
      c.check?.(r.service);
    });
  }
});
