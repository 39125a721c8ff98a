import { describe, expect, it } from 'vitest';
import { buildEndpoints, buildService } from './builders.js';
import { EndpointsChangeTracker, ServiceChangeTracker } from './change-tracker.js';

describe('ServiceChangeTracker', () => {
  it('keeps one previous/current pair per key and drops no-ops', () => {
    const t = new ServiceChangeTracker();
    expect(t.upsert(buildService({ name: 'a', clusterIP: '10.96.0.1' }))).toBe(true);
    expect(t.upsert(buildService({ name: 'a', clusterIP: '10.96.0.2' }))).toBe(true);
    expect(t.pending).toBe(1);
    const [c] = t.drain();
    expect(c!.previous.size).toBe(0);
    expect(c!.current.get('default/a:')!.clusterIP).toBe('10.96.0.2');
    // Back and forth to the applied state is a no-op.
    expect(t.upsert(buildService({ name: 'a', clusterIP: '10.96.0.3' }))).toBe(true);
    expect(t.upsert(buildService({ name: 'a', clusterIP: '10.96.0.2' }))).toBe(false);
    expect(t.pending).toBe(0);
    expect(t.delete('default', 'a')).toBe(true);
    const [d] = t.drain();
    expect([...d!.previous.keys()]).toEqual(['default/a:']);
    expect(d!.current.size).toBe(0);
  });

  it.each([
    { name: 'headless None', clusterIP: 'None', ports: 0 },
    { name: 'headless empty', clusterIP: '', ports: 0 },
    { name: 'IPv6 on an IPv4 proxier', clusterIP: 'fd00::1', ports: 0 },
    { name: 'normal', clusterIP: '10.96.0.9', ports: 1 },
  ])('converts services: $name', ({ clusterIP, ports }) => {
    const t = new ServiceChangeTracker();
    t.upsert(buildService({ name: 'h', clusterIP }));
    const changes = t.drain();
    expect(changes.reduce((n, c) => n + c.current.size, 0)).toBe(ports);
  });

  it('maps each port with affinity, node port and traffic policies', () => {
    const t = new ServiceChangeTracker();
    t.upsert(
      buildService({
        name: 'web',
        type: 'NodePort',
        sessionAffinity: 'ClientIP',
        externalTrafficPolicy: 'Local',
        ports: [
          { name: 'http', port: 80, nodePort: 30080 },
          { name: 'dns', port: 53, protocol: 'UDP', nodePort: 30053 },
        ],
      }),
    );
    const current = t.drain()[0]!.current;
    expect([...current.keys()].sort()).toEqual(['default/web:dns', 'default/web:http']);
    expect(current.get('default/web:http')).toMatchObject({
      nodePort: 30080,
      sessionAffinity: { kind: 'ClientIP', timeoutSeconds: 10800 },
      externalPolicyLocal: true,
    });
    expect(current.get('default/web:dns')!.protocol).toBe('UDP');
  });

  it('records change timestamps for programming latency', () => {
    const t = new ServiceChangeTracker();
    t.upsert(buildService({ name: 'a', changeTimestamp: new Date(1000) }));
    t.upsert(buildService({ name: 'a', clusterIP: '10.96.0.77', changeTimestamp: new Date(2000) }));
    expect(t.drain()[0]!.changeTimes).toEqual([1000, 2000]);
  });
});

describe('EndpointsChangeTracker', () => {
  it('matches endpoint ports by name, marks local endpoints and sorts', () => {
    const t = new EndpointsChangeTracker({ nodeName: 'n1' });
    t.upsert(
      buildEndpoints({
        name: 'web',
        addresses: ['10.244.2.5@n2', '10.244.1.3@n1', '10.244.1.4@n1'],
        notReady: ['10.244.1.4'],
        ports: [
          { name: 'http', port: 8080 },
          { name: 'dns', port: 5353, protocol: 'UDP' },
        ],
      }),
    );
    const current = t.drain()[0]!.current;
    const http = current.get('default/web:http')!;
    expect(http.map((e) => `${e.ip}:${e.port}:${e.isLocal}:${e.ready}`)).toEqual([
      '10.244.1.3:8080:true:true',
      '10.244.1.4:8080:true:false',
      '10.244.2.5:8080:false:true',
    ]);
    expect(current.get('default/web:dns')![0]!.port).toBe(5353);
  });

  it('drops an update equal to what was applied', () => {
    const t = new EndpointsChangeTracker({ nodeName: 'n1' });
    t.upsert(buildEndpoints({ name: 'a', addresses: ['10.244.1.2'] }));
    t.drain();
    expect(t.upsert(buildEndpoints({ name: 'a', addresses: ['10.244.1.2'] }))).toBe(false);
    expect(t.upsert(buildEndpoints({ name: 'a', addresses: ['10.244.1.2', '10.244.1.3'] }))).toBe(true);
    expect(t.upsert(buildEndpoints({ name: 'a', addresses: ['10.244.1.2'] }))).toBe(false);
    expect(t.pending).toBe(0);
  });
});
