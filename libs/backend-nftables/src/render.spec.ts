import { describe, expect, it } from 'vitest';
import { buildEndpoint, buildProxyState, buildServicePort, seededRandom, ChurnModel } from '@svcnet/proxy-core/testing';
import type { EndpointInfo, NodeConfig, ServicePortInfo } from '@svcnet/proxy-core';
import { elementText } from './elements.js';
import { chainsOf, elementsOf, setsOf, skippedOf } from './plan-views.js';
import { renderNftPlan, type NftPlan } from './render.js';

const config: NodeConfig = { nodeName: 'node1', nodeIPs: ['192.168.77.11'], clusterCIDR: '10.244.0.0/16', masqueradeAll: false, nodePortAddresses: [] };

function sp(over: Partial<ServicePortInfo> & { id: string }): ServicePortInfo {
  const [namespace, rest] = over.id.split('/');
  const [name, portName] = (rest ?? '').split(':');
  return buildServicePort({ namespace: namespace!, name: name!, portName: portName ?? '', clusterIP: '10.96.0.10', port: 80, ...over });
}
const ep = (ip: string, local = false, port = 8080): EndpointInfo => buildEndpoint(ip, port, { nodeName: local ? 'node1' : 'node2', isLocal: local });
const state = buildProxyState;

/** Every element of the plan as `map: text`, sorted. */
const elementLines = (p: NftPlan) => [...elementsOf(p)].flatMap(([m, els]) => els.map((e) => `${m}: ${elementText(e)}`)).sort();

/** Everything a plan puts in the kernel, comparable across plans rendered different ways. */
function content(p: NftPlan) {
  return {
    elements: elementLines(p),
    chains: [...chainsOf(p)].sort(),
    sets: [...setsOf(p)].sort(),
    picks: [...p.picks].sort(),
    digests: p.digests,
    skipped: skippedOf(p),
    table: p.table,
  };
}

describe('renderNftPlan', () => {
  const web = sp({ id: 'default/web:', nodePort: 30080 });
  const dns = sp({ id: 'kube-system/dns:dns', protocol: 'UDP', clusterIP: '10.96.0.53', port: 53 });
  const empty = sp({ id: 'default/empty:', clusterIP: '10.96.0.99', nodePort: 30099 });
  const aff = sp({ id: 'default/aff:', clusterIP: '10.96.0.20', sessionAffinity: { kind: 'ClientIP', timeoutSeconds: 600 } });
  const local = sp({ id: 'default/local:', clusterIP: '10.96.0.30', nodePort: 30030, externalPolicyLocal: true });
  const plan = renderNftPlan({ state: state([
      [web, [ep('10.244.1.2', true), ep('10.244.2.2')]],
      [dns, [ep('10.244.2.3', false, 53)]],
      [empty, []],
      [aff, [ep('10.244.1.4', true)]],
      [local, [ep('10.244.1.5', true), ep('10.244.2.5')]],
    ]), config, full: true });
  const lines = elementLines(plan);

  it.each([
    { name: 'cluster IP → the pick chain for its endpoint count', line: 'service-ips: 10.96.0.10 . tcp . 80 comment "default/web:" : goto cluster-tcp-2' },
    { name: 'its endpoints, indexed for numgen', line: 'cluster-endpoints-tcp: 10.96.0.10 . 80 . 1 comment "default/web:" : 10.244.2.2 . 8080' },
    { name: 'node port (eTP Cluster) → nodeport-N', line: 'service-nodeports: tcp . 30080 comment "default/web:" : goto nodeport-tcp-2' },
    { name: 'node port endpoints: every ready endpoint', line: 'nodeport-endpoints-tcp: 30080 . 1 comment "default/web:" : 10.244.2.2 . 8080' },
    { name: 'hairpin: the local endpoint only', line: 'hairpin-ips: 10.96.0.10 . tcp . 80 . 10.244.1.2 . 10.244.1.2 comment "default/web:"' },
    { name: 'UDP', line: 'service-ips: 10.96.0.53 . udp . 53 comment "kube-system/dns:dns" : goto cluster-udp-1' },
    { name: 'no endpoints: the cluster IP is rejected', line: 'no-endpoint-services: 10.96.0.99 . tcp . 80 comment "default/empty:" : goto reject-service' },
    { name: 'no endpoints: the node port is rejected', line: 'no-endpoint-nodeports: tcp . 30099 comment "default/empty:" : goto reject-service' },
    { name: 'eTP Local node port → its pick chain for 1 local of 2 endpoints', line: 'service-nodeports: tcp . 30030 comment "default/local:" : goto nodeport-local-tcp-1-2' },
    { name: 'eTP Local node port: outside clients\' (local) endpoint', line: 'nodeport-local-endpoints-tcp: 30030 . 0 comment "default/local:" : 10.244.1.5 . 8080' },
    { name: 'eTP Local node port: every endpoint for pods and the node', line: 'nodeport-endpoints-tcp: 30030 . 1 comment "default/local:" : 10.244.2.5 . 8080' },
    { name: 'eTP Local node port: its hairpin', line: 'hairpin-nodeports: tcp . 30030 . 10.244.1.5 . 10.244.1.5 comment "default/local:"' },
    { name: 'every cluster IP is in cluster-ips', line: 'cluster-ips: 10.96.0.99 comment "default/empty:"' },
  ])('element: $name', ({ line }) => {
    expect(lines).toContain(line);
  });

  it('the table text lists exactly the elements the plan holds', () => {
    const text = plan.table;
    const listed = [...text.matchAll(/^\t(?:map|set) (\S+) \{\n[\s\S]*?(?:elements = \{ ([\s\S]*?) \}\n)?\t\}/gm)].flatMap(([, m, els]) =>
      els ? els.split(',\n\t\t\t     ').map((e) => `${m}: ${e}`) : [],
    );
    expect(listed.sort()).toEqual(lines);
  });

  it('the common service costs elements, not chains: chains are fixed, per endpoint count, or per affinity service', () => {
    const chains = [...chainsOf(plan).keys()].sort();
    expect(chains.filter((c) => !/^(services|service-endpoints-check|firewall-check|cluster-ips-check|reject-service|mark-for-masquerade|masquerading)$/.test(c))).toEqual([
      expect.stringMatching(/^cip-[0-9A-F]{16}$/),
      'cluster-tcp-2',
      'cluster-udp-1',
      'nodeport-local-tcp-1-2',
      'nodeport-tcp-2',
      expect.stringMatching(/^svc-[0-9A-F]{16}$/),
    ]);
    expect(chainsOf(plan).get('cluster-tcp-2')).toEqual([
      'ip saddr != 10.244.0.0/16 jump mark-for-masquerade',
      'meta l4proto tcp dnat ip to ip daddr . th dport . numgen random mod 2 map @cluster-endpoints-tcp',
    ]);
    expect(chainsOf(plan).get('nodeport-local-tcp-1-2')).toEqual([
      'ip saddr 10.244.0.0/16 meta l4proto tcp dnat ip to th dport . numgen random mod 2 map @nodeport-endpoints-tcp',
      'fib saddr type local jump mark-for-masquerade',
      'fib saddr type local meta l4proto tcp dnat ip to th dport . numgen random mod 2 map @nodeport-endpoints-tcp',
      'meta l4proto tcp dnat ip to th dport . numgen random mod 1 map @nodeport-local-endpoints-tcp',
    ]);
    // 1,000 more services of two endpoints each: not one chain more.
    const many = renderNftPlan({ state: state(Array.from({ length: 1000 }, (_, i) => [sp({ id: `bulk/s${i}:`, clusterIP: `10.97.${i >> 8}.${i & 255}` }), [ep('10.244.3.1'), ep('10.244.3.2')]] as const)), config, full: true });
    expect([...chainsOf(many).keys()].filter((c) => /^(cluster|nodeport|svc|ext)-/.test(c) && !c.endsWith('-check'))).toEqual(['cluster-tcp-2']);
    expect(many.digests['cluster-endpoints-tcp'].count).toBe(2000);
  });

  it('ClientIP affinity: its own chain with a dynamic set per endpoint, checked before the numgen cascade', () => {
    const [svcName, svc] = [...chainsOf(plan)].find(([c]) => c.startsWith('svc-'))!;
    const [cipName, cip] = [...chainsOf(plan)].find(([c]) => c.startsWith('cip-'))!;
    const [set] = [...setsOf(plan).keys()].filter((s) => s.startsWith('aff-'));
    expect(setsOf(plan).get(set!)).toEqual({ type: 'ipv4_addr', flags: 'dynamic,timeout', timeoutSeconds: 600 });
    expect(cip).toEqual(['ip saddr != 10.244.0.0/16 jump mark-for-masquerade', `goto ${svcName}`]);
    expect(svc).toEqual([
      `ip saddr @${set} meta l4proto tcp update @${set} { ip saddr } dnat to 10.244.1.4:8080 comment "default/aff: -> 10.244.1.4:8080"`,
      `meta l4proto tcp update @${set} { ip saddr } dnat to 10.244.1.4:8080 comment "default/aff: -> 10.244.1.4:8080"`,
    ]);
    expect(lines).toContain(`service-ips: 10.96.0.20 . tcp . 80 comment "default/aff:" : goto ${cipName}`);
    expect(plan.table).not.toContain('vmap {');
  });

  it.each([
    {
      name: 'externalTrafficPolicy Local without a local endpoint: outside clients dropped, pods and the node short-circuited',
      s: sp({ id: 'default/l:', nodePort: 30031, externalPolicyLocal: true }),
      eps: [ep('10.244.2.5')],
      want: [
        'service-nodeports: tcp . 30031 comment "default/l:" : goto nodeport-local-tcp-0-1',
        'no-endpoint-nodeports: tcp . 30031 comment "default/l:" : drop',
        'nodeport-endpoints-tcp: 30031 . 0 comment "default/l:" : 10.244.2.5 . 8080',
      ],
      not: /nodeport-local-endpoints-tcp: 30031/,
    },
    {
      name: 'internalTrafficPolicy Local without a local endpoint: the cluster IP is dropped',
      s: sp({ id: 'default/i:', internalPolicyLocal: true }),
      eps: [ep('10.244.2.5')],
      want: ['no-endpoint-services: 10.96.0.10 . tcp . 80 comment "default/i:" : drop'],
      not: /cluster-endpoints|service-ips/,
    },
    {
      name: 'external IPs: always masqueraded (eTP Cluster), each with its own endpoint elements',
      s: sp({ id: 'default/x:', externalIPs: ['192.168.50.100', '10.96.0.10', 'fd00::1'] }),
      eps: [ep('10.244.2.5')],
      want: [
        'service-ips: 192.168.50.100 . tcp . 80 comment "default/x:" : goto external-tcp-1',
        'cluster-endpoints-tcp: 192.168.50.100 . 80 . 0 comment "default/x:" : 10.244.2.5 . 8080',
      ],
      not: /fd00/,
    },
    {
      name: 'not-ready and terminating endpoints are left out while one is ready',
      s: sp({ id: 'default/r:' }),
      eps: [ep('10.244.2.5'), { ...ep('10.244.2.6'), ready: false, serving: false }, { ...ep('10.244.2.7'), ready: false, terminating: true }],
      want: ['service-ips: 10.96.0.10 . tcp . 80 comment "default/r:" : goto cluster-tcp-1'],
      not: /10\.244\.2\.[67]/,
    },
    {
      name: 'serving-terminating endpoints are used when none is ready (KEP-1669)',
      s: sp({ id: 'default/t:' }),
      eps: [{ ...ep('10.244.2.6'), ready: false, serving: false, terminating: true }, { ...ep('10.244.2.7'), ready: false, terminating: true }],
      want: ['service-ips: 10.96.0.10 . tcp . 80 comment "default/t:" : goto cluster-tcp-1', 'cluster-endpoints-tcp: 10.96.0.10 . 80 . 0 comment "default/t:" : 10.244.2.7 . 8080'],
      not: /10\.244\.2\.6/,
    },
  ])('$name', ({ s, eps, want, not }) => {
    const p = renderNftPlan({ state: state([[s, eps]]), config, full: true });
    const l = elementLines(p);
    for (const w of want) expect(l).toContain(w);
    expect(l.join('\n')).not.toMatch(not);
  });

  it('--masquerade-all: the cluster IP pick chains mark everything', () => {
    const p = renderNftPlan({ state: state([[web, [ep('10.244.1.2', true)]]]), config: { ...config, masqueradeAll: true }, full: true });
    expect(chainsOf(p).get('cluster-tcp-1')![0]).toBe('jump mark-for-masquerade');
  });

  it('tracks UDP destinations for conntrack cleanup and skips what it cannot program', () => {
    expect([...plan.fragments.values()].flatMap((f) => f.udp)).toEqual([{ origDst: '10.96.0.53', endpoints: ['10.244.2.3'] }]);
    const x = sp({ id: 'default/u:', protocol: 'UDP', port: 53, externalIPs: ['192.168.50.100'], nodePort: 30053, externalPolicyLocal: true, internalPolicyLocal: true });
    const u = renderNftPlan({ state: state([[x, [ep('10.244.1.3', true, 53), ep('10.244.2.3', false, 53)]]]), config, full: true });
    expect([...u.fragments.values()].flatMap((f) => f.udp)).toEqual([
      { origDst: '10.96.0.10', endpoints: ['10.244.1.3'] },
      { origDst: '192.168.50.100', endpoints: ['10.244.1.3', '10.244.2.3'] },
      { origDst: '', origPortDst: 30053, endpoints: ['10.244.1.3', '10.244.2.3'] },
    ]);
    const sctp = renderNftPlan({ state: state([[sp({ id: 'default/s:', protocol: 'SCTP' }), []], [sp({ id: 'default/v6:', clusterIP: 'fd00::1' }), []]]), config, full: true });
    expect(skippedOf(sctp).map((s) => s.id)).toEqual(['default/s:', 'default/v6:']);
    expect(elementLines(sctp)).toEqual([]);
  });

  it('restricts node ports to --nodeport-addresses', () => {
    const p = renderNftPlan({ state: state([[web, [ep('10.244.1.2', true)]]]), config: { ...config, nodePortAddresses: ['192.168.77.11/32', 'fd00::/64'] }, full: true });
    expect(setsOf(p).get('nodeport-ips')).toEqual({ type: 'ipv4_addr', flags: 'interval', elements: ['192.168.77.11/32'] });
    expect(chainsOf(p).get('services')![1]).toBe('fib daddr type local ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports');
  });

  it('two services claiming one address: the cluster IP owner wins over an external IP, and takes over when the other goes', () => {
    const owner = sp({ id: 'default/owner:', clusterIP: '10.96.0.10' });
    const thief = sp({ id: 'default/thief:', clusterIP: '10.96.0.11', externalIPs: ['10.96.0.10'] });
    const both = renderNftPlan({ state: state([[owner, [ep('10.244.1.1')]], [thief, [ep('10.244.6.6'), ep('10.244.6.7')]]]), config, full: true });
    expect(elementLines(both).filter((l) => l.includes(' 10.96.0.10 . ') && !l.startsWith('cluster-ips'))).toEqual([
      'cluster-endpoints-tcp: 10.96.0.10 . 80 . 0 comment "default/owner:" : 10.244.1.1 . 8080',
      'service-ips: 10.96.0.10 . tcp . 80 comment "default/owner:" : goto cluster-tcp-1',
    ]);
    const ownerGone = renderNftPlan({ state: state([[thief, [ep('10.244.6.6'), ep('10.244.6.7')]]]), config, full: false, lastApplied: both, changed: new Set([owner.id]) });
    expect(elementLines(ownerGone).filter((l) => l.includes(' 10.96.0.10 . ')).length).toBe(3);
    expect(elementLines(ownerGone).filter((l) => l.startsWith('cluster-ips'))).toEqual(['cluster-ips: 10.96.0.11 comment "default/thief:"']);
    expect(content(ownerGone)).toEqual(content(renderNftPlan({ state: state([[thief, [ep('10.244.6.6'), ep('10.244.6.7')]]]), config, full: true })));
  });

  it('a partial render re-renders only the changed service ports and equals a full render', () => {
    const a = sp({ id: 'default/a:', clusterIP: '10.96.0.1', nodePort: 30001 });
    const b = sp({ id: 'default/b:', clusterIP: '10.96.0.2', sessionAffinity: { kind: 'ClientIP', timeoutSeconds: 60 } });
    const c = sp({ id: 'default/c:', clusterIP: '10.96.0.3', protocol: 'UDP', port: 53 });
    const first = renderNftPlan({ state: state([[a, [ep('10.244.1.2')]], [b, [ep('10.244.1.3')]], [c, []]]), config, full: true });
    const steps: Array<[Parameters<typeof state>[0], string[]]> = [
      [[[a, [ep('10.244.1.2'), ep('10.244.1.9', true)]], [b, [ep('10.244.1.3')]], [c, []]], ['default/a:']],
      [[[a, [ep('10.244.1.2'), ep('10.244.1.9', true)]], [b, []], [c, [ep('10.244.2.3', false, 53)]]], ['default/b:', 'default/c:']],
      [[[a, [ep('10.244.1.9')]], [c, [ep('10.244.2.3', false, 53)]]], ['default/a:', 'default/b:']],
    ];
    let last = first;
    for (const [entries, changed] of steps) {
      const partial = renderNftPlan({ state: state(entries), config, full: false, lastApplied: last, changed: new Set(changed) });
      expect(partial.full).toBe(false);
      expect(content(partial)).toEqual(content(renderNftPlan({ state: state(entries), config, full: true })));
      // Unchanged service ports: the very fragment of the last plan; the last plan itself untouched.
      for (const [id, f] of partial.fragments) expect(f === last.fragments.get(id)).toBe(!changed.includes(id));
      last = partial;
    }
    expect(content(first)).toEqual(content(renderNftPlan({ state: state([[a, [ep('10.244.1.2')]], [b, [ep('10.244.1.3')]], [c, []]]), config, full: true })));
  });

  it('under seeded churn, a run of partial renders equals a full render at every step', () => {
    const model = new ChurnModel(seededRandom(7), { nodeName: 'node1' });
    let last: NftPlan | undefined;
    for (let step = 0; step < 80; step++) {
      const changed = model.step();
      const s = model.state();
      const partial = renderNftPlan({ state: s, config, full: last === undefined, lastApplied: last, changed });
      const full = renderNftPlan({ state: s, config, full: true });
      expect(content(partial), `step ${step}`).toEqual(content(full));
      last = partial;
    }
  });
});
