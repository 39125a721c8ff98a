/**
 * Real-kernel tests of IptablesBackend, inside throw-away network namespaces
 * (prefix `ipt-`), for iptables-legacy and iptables-nft. Needs root.
 */
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { ProcessNetExec } from '@svcnet/netexec';
import { Proxier, endpointsOf, servicePortsOf } from '@svcnet/proxy-core';
import { ChurnModel, FakeClock, buildEndpoints, buildService, seededRandom } from '@svcnet/proxy-core/testing';
import type { EndpointInfo, NodeConfig, ProxyState, ServicePortInfo } from '@svcnet/proxy-core';
import type { Endpoints, Service } from '@svcnet/model';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IptablesBackend, parseSave, serviceChainNames } from '../src/index.js';
import type { IptablesPlan, IptablesVariant } from '../src/index.js';

const exec = new ProcessNetExec();
const isRoot = process.getuid?.() === 0;
const CONFIG: NodeConfig = { nodeName: 'n1', nodeIPs: ['10.244.1.1'], clusterCIDR: '10.244.0.0/16', masqueradeAll: false, nodePortAddresses: [] };

function stateOf(services: Service[], endpoints: Endpoints[]): ProxyState {
  const s = new Map<string, ServicePortInfo>();
  const e = new Map<string, readonly EndpointInfo[]>();
  for (const x of services) for (const [k, v] of servicePortsOf(x)) s.set(k, v);
  for (const x of endpoints) for (const [k, v] of endpointsOf(x, 'n1')) e.set(k, v);
  return { services: s, endpoints: e };
}

const svc = (name: string, ip: string, extra: Partial<Parameters<typeof buildService>[0]> = {}) => buildService({ name, clusterIP: ip, ...extra });
const eps = (name: string, ...ips: string[]) => buildEndpoints({ name, addresses: ips.map((ip) => `${ip}@n1`) });
const svcChain = (name: string) => serviceChainNames({ namespace: 'default', name, portName: '', protocol: 'TCP' }).svc;

async function sh(ns: string, file: string, args: string[], allowFailure = false) {
  return exec.run({ file, args, netns: ns, allowFailure });
}

async function save(ns: string, v: IptablesVariant) {
  return parseSave((await sh(ns, `iptables-${v}-save`, [])).stdout);
}

async function kubeChains(ns: string, v: IptablesVariant): Promise<string[]> {
  const out: string[] = [];
  for (const [table, t] of await save(ns, v)) for (const c of t.chains) if (c.startsWith('KUBE-')) out.push(`${table}/${c}`);
  return out.sort();
}

/** Chains whose rules partial syncs edit in place (-D / -I 1): their order may differ from a full sync's. */
const EDITED_IN_PLACE = new Set(['nat/KUBE-SERVICES', 'nat/KUBE-NODEPORTS', 'filter/KUBE-SERVICES', 'filter/KUBE-EXTERNAL-SERVICES']);

/**
 * Every KUBE- chain with its rules, and the jumps into them from the built-in
 * chains; rules in order, except in the chains edited in place (sorted there,
 * with the node-port jump checked to stay last in nat KUBE-SERVICES).
 */
async function kubeView(ns: string, v: IptablesVariant): Promise<string[]> {
  const out: string[] = [];
  for (const [table, t] of await save(ns, v)) {
    for (const chain of [...t.chains].sort()) {
      const rules = (t.rules.get(chain) ?? []).filter((r) => chain.startsWith('KUBE-') || / -j KUBE-/.test(r));
      if (!chain.startsWith('KUBE-') && rules.length === 0) continue;
      const key = `${table}/${chain}`;
      if (key === 'nat/KUBE-SERVICES' && rules.some((r) => r.includes('-j KUBE-NODEPORTS'))) {
        expect(rules.at(-1), `${ns}: the node-port jump must stay last`).toContain('-j KUBE-NODEPORTS');
      }
      out.push(`${key}\n${(EDITED_IN_PLACE.has(key) ? [...rules].sort() : rules).join('\n')}`);
    }
  }
  return out;
}

describe.skipIf(!isRoot).each(['legacy', 'nft'] as const)('IptablesBackend on iptables-%s (real kernel, netns)', (variant) => {
  const ns = `ipt-k-${variant}-${randomBytes(3).toString('hex')}`;
  const backend = new IptablesBackend({ exec, variant, netns: ns });
  let last: IptablesPlan | undefined;

  async function sync(state: ProxyState, changed: string[], full = false) {
    const plan = backend.render({ state, config: CONFIG, full: full || !last, changed: new Set(changed), lastApplied: last });
    await backend.apply(plan);
    last = plan;
    return plan;
  }

  beforeAll(async () => {
    await exec.run({ file: 'ip', args: ['netns', 'add', ns] });
    // Somebody else's rules, present before us: they must survive everything.
    const ipt = `iptables-${variant}`;
    await sh(ns, ipt, ['-t', 'nat', '-N', 'USER-CHAIN']);
    await sh(ns, ipt, ['-t', 'nat', '-A', 'USER-CHAIN', '-s', '192.0.2.1', '-j', 'RETURN']);
    await sh(ns, ipt, ['-t', 'nat', '-A', 'PREROUTING', '-j', 'USER-CHAIN']);
    await sh(ns, ipt, ['-t', 'filter', '-A', 'INPUT', '-s', '192.0.2.2', '-j', 'DROP']);
  });

  afterAll(async () => {
    await exec.run({ file: 'ip', args: ['netns', 'del', ns], allowFailure: true });
  });

  it('full sync programs the kube-proxy layout and jump rules', async () => {
    await sync(stateOf([svc('a', '10.96.0.1'), svc('b', '10.96.0.2')], [eps('a', '10.244.1.2'), eps('b', '10.244.1.3', '10.244.1.4')]), [], true);
    const nat = (await save(ns, variant)).get('nat')!;
    expect(nat.chains.has(svcChain('a'))).toBe(true);
    expect(nat.rules.get(svcChain('b'))).toHaveLength(3);
    expect(nat.rules.get('KUBE-SERVICES')!.at(-1)).toContain('--dst-type LOCAL -j KUBE-NODEPORTS');
    expect(nat.rules.get('PREROUTING')!.some((l) => l.endsWith('-j KUBE-SERVICES'))).toBe(true);
    expect(await backend.detectDrift(last!)).toBe(false);
  });

  it('partial sync: changed service rewritten, stale chains removed, KUBE-SERVICES edited in place', async () => {
    const plan = await sync(stateOf([svc('a', '10.96.0.1'), svc('c', '10.96.0.3')], [eps('a', '10.244.1.2'), eps('c', '10.244.1.5')]), [
      'default/b:',
      'default/c:',
    ]);
    expect(plan.full).toBe(false);
    const chains = await kubeChains(ns, variant);
    expect(chains).not.toContain(`nat/${svcChain('b')}`);
    expect(chains).toContain(`nat/${svcChain('c')}`);
    expect(chains.filter((c) => c.startsWith('nat/KUBE-SEP-'))).toHaveLength(2);
    const nat = (await save(ns, variant)).get('nat')!;
    expect(nat.rules.get('KUBE-SERVICES')).toHaveLength(3);
    expect(nat.rules.get('KUBE-SERVICES')!.at(-1)).toContain('-j KUBE-NODEPORTS');
    expect(await backend.detectDrift(plan)).toBe(false);
  });

  it('a service losing its endpoints gets a REJECT in filter; regaining them removes it', async () => {
    await sync(stateOf([svc('a', '10.96.0.1'), svc('c', '10.96.0.3')], [eps('a', '10.244.1.2')]), ['default/c:']);
    let filter = (await save(ns, variant)).get('filter')!;
    expect(filter.rules.get('KUBE-SERVICES')!.join('\n')).toMatch(/default\/c has no endpoints.*-j REJECT/);
    await sync(stateOf([svc('a', '10.96.0.1'), svc('c', '10.96.0.3')], [eps('a', '10.244.1.2'), eps('c', '10.244.1.5')]), ['default/c:']);
    filter = (await save(ns, variant)).get('filter')!;
    expect(filter.rules.get('KUBE-SERVICES') ?? []).toHaveLength(0);
  });

  it('drift: KUBE-SERVICES flushed by hand is detected and a full sync restores it', async () => {
    await sh(ns, `iptables-${variant}`, ['-t', 'nat', '-F', 'KUBE-SERVICES']);
    expect(await backend.detectDrift(last!)).toBe(true);
    await sync(stateOf([svc('a', '10.96.0.1'), svc('c', '10.96.0.3')], [eps('a', '10.244.1.2'), eps('c', '10.244.1.5')]), [], true);
    expect((await save(ns, variant)).get('nat')!.rules.get('KUBE-SERVICES')).toHaveLength(3);
    expect(await backend.detectDrift(last!)).toBe(false);
  });

  it('drift: a deleted jump rule is detected and re-added exactly once', async () => {
    await sh(ns, `iptables-${variant}`, ['-t', 'nat', '-D', 'OUTPUT', '-m', 'comment', '--comment', 'kubernetes service portals', '-j', 'KUBE-SERVICES']);
    expect(await backend.detectDrift(last!)).toBe(true);
    await sync(stateOf([svc('a', '10.96.0.1'), svc('c', '10.96.0.3')], [eps('a', '10.244.1.2'), eps('c', '10.244.1.5')]), [], true);
    const nat = (await save(ns, variant)).get('nat')!;
    expect(nat.rules.get('OUTPUT')!.filter((l) => l.endsWith('-j KUBE-SERVICES'))).toHaveLength(1);
    expect(nat.rules.get('PREROUTING')!.filter((l) => l.endsWith('-j KUBE-SERVICES'))).toHaveLength(1);
  });

  it('a new backend (agent restart) removes chains the kernel has but the state no longer wants', async () => {
    const restarted = new IptablesBackend({ exec, variant, netns: ns });
    const plan = restarted.render({ state: stateOf([svc('a', '10.96.0.1')], [eps('a', '10.244.1.2')]), config: CONFIG, full: true, changed: new Set(), lastApplied: undefined });
    await restarted.apply(plan);
    last = plan;
    const chains = await kubeChains(ns, variant);
    expect(chains).not.toContain(`nat/${svcChain('c')}`);
    expect(chains.filter((c) => c.startsWith('nat/KUBE-SEP-'))).toHaveLength(1);
  });

  it('the Proxier restores rules deleted behind its back at the next periodic check', async () => {
    const clock = new FakeClock();
    const proxier = new Proxier({ backend, config: CONFIG, clock, minSyncPeriodMs: 10, syncPeriodMs: 1000, metrics: new Registry() });
    proxier.onServiceUpsert(svc('a', '10.96.0.1'));
    proxier.onEndpointsUpsert(eps('a', '10.244.1.2'));
    proxier.start();
    proxier.onSynced();
    await clock.advance(0);
    await proxier.stop();
    // Re-start to drive the loop by hand with the fake clock.
    proxier.start();
    await sh(ns, `iptables-${variant}`, ['-t', 'nat', '-F', svcChain('a')]);
    for (let i = 0; i < 50 && proxier.status().syncs < 2; i++) await clock.advance(1000);
    await proxier.stop();
    expect(proxier.status().lastError).toBeUndefined();
    expect((await save(ns, variant)).get('nat')!.rules.get(svcChain('a'))).toHaveLength(2);
    last = proxier.lastPlan();
  });

  it('cleanup leaves no KUBE- chain and keeps everybody else\'s rules', async () => {
    await backend.cleanup();
    expect(await kubeChains(ns, variant)).toEqual([]);
    const saved = await save(ns, variant);
    expect(saved.get('nat')!.rules.get('PREROUTING')).toEqual(['-A PREROUTING -j USER-CHAIN']);
    expect(saved.get('nat')!.rules.get('USER-CHAIN')).toHaveLength(1);
    expect(saved.get('filter')!.rules.get('INPUT')).toEqual(['-A INPUT -s 192.0.2.2/32 -j DROP']);
    // Idempotent.
    await backend.cleanup();
  });

  it('under churn, partial syncs leave the kernel with what a full sync writes, step after step', async () => {
    const seed = Number(process.env.SVCNET_CHURN_SEED ?? 20261127);
    const model = new ChurnModel(seededRandom(seed), { nodeName: 'n1' });
    const [churned, fresh] = [`${ns}-c1`, `${ns}-c2`];
    for (const n of [churned, fresh]) await exec.run({ file: 'ip', args: ['netns', 'add', n] });
    try {
      const b = new IptablesBackend({ exec, variant, netns: churned });
      let lastPlan: IptablesPlan | undefined;
      let partial = 0;
      for (let step = 0; step < 60; step++) {
        const changed = model.step();
        const state = model.state();
        const plan = b.render({ state, config: CONFIG, full: !lastPlan, changed, lastApplied: lastPlan });
        if (lastPlan) partial++;
        await b.apply(plan);
        lastPlan = plan;
        const f = new IptablesBackend({ exec, variant, netns: fresh });
        await f.cleanup();
        await f.apply(f.render({ state, config: CONFIG, full: true, changed: new Set(), lastApplied: undefined }));
        const why = `seed ${seed}, step ${step}, changed ${[...changed].join(' ')}`;
        const [got, want] = [await kubeView(churned, variant), await kubeView(fresh, variant)];
        expect(got, why).toEqual(want);
        if (step % 10 === 9) expect(await b.detectDrift(plan), why).toBe(false);
      }
      expect(partial).toBe(59);
    } finally {
      for (const n of [churned, fresh]) await exec.run({ file: 'ip', args: ['netns', 'del', n], allowFailure: true });
    }
  });
});

describe.skipIf(!isRoot)('IptablesBackend with real traffic (one node namespace + one pod namespace)', () => {
  const id = randomBytes(3).toString('hex');
  const node = `ipt-t-node-${id}`;
  const pod = `ipt-t-pod-${id}`;
  const servers: ChildProcess[] = [];
  const backend = new IptablesBackend({ exec, variant: 'nft', netns: node });

  beforeAll(async () => {
    for (const n of [node, pod]) await exec.run({ file: 'ip', args: ['netns', 'add', n] });
    await exec.run({ file: 'ip', args: ['-n', node, 'link', 'add', 'veth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', pod] });
    await exec.run({ file: 'ip', args: ['-n', node, 'addr', 'add', '10.244.1.1/24', 'dev', 'veth0'] });
    await exec.run({ file: 'ip', args: ['-n', pod, 'addr', 'add', '10.244.1.2/24', 'dev', 'eth0'] });
    for (const [n, dev] of [
      [node, 'veth0'],
      [node, 'lo'],
      [pod, 'eth0'],
      [pod, 'lo'],
    ] as const) {
      await exec.run({ file: 'ip', args: ['-n', n, 'link', 'set', dev, 'up'] });
    }
    await exec.run({ file: 'ip', args: ['-n', pod, 'route', 'add', 'default', 'via', '10.244.1.1'] });
    // Service IPs need a route for the OUTPUT path to reach nat at all.
    await exec.run({ file: 'ip', args: ['-n', node, 'route', 'add', '10.96.0.0/16', 'dev', 'veth0'] });
    const server = spawn('ip', ['netns', 'exec', pod, 'socat', 'TCP-LISTEN:8080,fork,reuseaddr', 'SYSTEM:echo pong'], { stdio: 'ignore' });
    servers.push(server);
    await new Promise((r) => setTimeout(r, 300));
    const plan = backend.render({
      state: stateOf([svc('web', '10.96.0.10'), svc('none', '10.96.0.11')], [eps('web', '10.244.1.2')]),
      config: CONFIG,
      full: true,
      changed: new Set(),
      lastApplied: undefined,
    });
    await backend.apply(plan);
  });

  afterAll(async () => {
    for (const s of servers) if (s.pid) process.kill(s.pid);
    for (const n of [node, pod]) {
      const pids = (await exec.run({ file: 'ip', args: ['netns', 'pids', n], allowFailure: true })).stdout.split(/\s+/).filter(Boolean);
      for (const p of pids) process.kill(Number(p));
      await exec.run({ file: 'ip', args: ['netns', 'del', n], allowFailure: true });
    }
  });

  it('a connection to the ClusterIP from the node reaches the pod', async () => {
    const r = await exec.run({ file: 'socat', args: ['-T', '2', '-', 'TCP:10.96.0.10:80,connect-timeout=2'], netns: node });
    expect(r.stdout.trim()).toBe('pong');
  });

  it('a service without endpoints refuses at once', async () => {
    const started = performance.now();
    const r = await exec.run({ file: 'socat', args: ['-T', '2', '-', 'TCP:10.96.0.11:80,connect-timeout=3'], netns: node, allowFailure: true });
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toMatch(/Connection refused/);
    expect(performance.now() - started).toBeLessThan(1000);
  });
});
