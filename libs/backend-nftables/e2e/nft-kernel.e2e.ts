/**
 * The nftables backend against the real kernel, in a throw-away namespace
 * (nftk-<random>): the table loads, a later sync keeps ClientIP affinity
 * entries and drops a removed service, a run of partial syncs leaves the
 * kernel with exactly the table a full replace would (also under 60 steps of
 * seeded churn), the drift digests the plan carries match what the kernel
 * stores, cleanup removes the table. Needs root.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessNetExec } from '@svcnet/netexec';
import { ChurnModel, buildEndpoint, buildProxyState, buildServicePort, seededRandom } from '@svcnet/proxy-core/testing';
import type { EndpointInfo, NodeConfig, ServicePortInfo } from '@svcnet/proxy-core';
import { NetnsLab } from '@svcnet/testing';
import { NftablesBackend, renderNftPlan, replaceScript, setsOf, updateScript, type NftPlan } from '../src/index.js';
import { normalizeListing } from './listing.js';

const notRoot = process.getuid?.() === 0 ? undefined : 'needs root to create network namespaces';
const config: NodeConfig = { nodeName: 'n1', nodeIPs: ['10.0.0.1'], clusterCIDR: '10.244.0.0/16', masqueradeAll: false, nodePortAddresses: [] };

const sp = (id: string, clusterIP: string, affinity = false): ServicePortInfo =>
  buildServicePort({
    name: id.split('/')[1]!.replace(/:$/, ''),
    clusterIP,
    port: 80,
    ...(affinity ? { sessionAffinity: { kind: 'ClientIP' as const, timeoutSeconds: 600 } } : {}),
  });
const ep = (ip: string): EndpointInfo => buildEndpoint(ip, 8080, { isLocal: true, nodeName: 'n1' });
const state = buildProxyState;

describe.skipIf(notRoot !== undefined)(`NftablesBackend in a network namespace${notRoot ? ` — skipped: ${notRoot}` : ''}`, () => {
  const lab = new NetnsLab({ prefix: `nftk-${randomBytes(3).toString('hex')}` });
  let ns = '';
  let backend: NftablesBackend;
  const nft = async (...args: string[]) => (await lab.run(ns, 'nft', args, { allowFailure: true })).stdout;

  beforeAll(async () => {
    ns = await lab.addNamespace('n');
    backend = new NftablesBackend({ exec: new ProcessNetExec(), netns: ns });
  });
  afterAll(async () => {
    await lab.cleanup();
  });

  it('keeps affinity entries across syncs, drops a removed service, partial syncs = a full replace, cleans up', async () => {
    const web = sp('default/web:', '10.96.0.10', true);
    const old = sp('default/old:', '10.96.0.11');
    const plan1 = renderNftPlan({ state: state([[web, [ep('10.244.1.2'), ep('10.244.1.3')]], [old, [ep('10.244.1.4')]]]), config, full: true });
    await backend.apply(plan1);
    const affSet = [...setsOf(plan1).keys()].find((n) => n.startsWith('aff-'))!;
    expect(await nft('list', 'table', 'ip', 'svcnet')).toMatch(/10\.96\.0\.11 \. tcp \. 80 counter packets 0 bytes 0 comment "default\/old:" : goto cluster-tcp-1/);
    // A client pinned by affinity, as the kernel would record it.
    await nft('add', 'element', 'ip', 'svcnet', affSet, '{ 10.9.9.9 }');

    const fresh = sp('default/new:', '10.96.0.12');
    const s2 = state([[web, [ep('10.244.1.2'), ep('10.244.1.3')]], [fresh, [ep('10.244.1.5')]]]);
    const plan2 = renderNftPlan({ state: s2, config, full: false, lastApplied: plan1, changed: new Set(['default/old:', 'default/new:']) });
    await backend.apply(plan2);
    const table = await nft('list', 'table', 'ip', 'svcnet');
    expect(await nft('list', 'set', 'ip', 'svcnet', affSet)).toContain('10.9.9.9');
    expect(table).not.toContain('10.96.0.11');
    expect(table).not.toContain('default/old:');
    expect(table).toContain('comment "default/new:" : goto cluster-tcp-1');

    // Partial syncs over the cases a sync meets — endpoints replaced, a new endpoint count, a new
    // affinity timeout (a new set), a service losing every endpoint and getting one back, a node
    // port added — leave the kernel with the table a full replace of the same state gives.
    const other = await lab.addNamespace('r');
    const steps = [
      state([[web, [ep('10.244.1.3'), ep('10.244.1.6')]], [fresh, []]]),
      state([[{ ...web, sessionAffinity: { kind: 'ClientIP' as const, timeoutSeconds: 30 } }, [ep('10.244.1.6')]], [{ ...fresh, nodePort: 30012 }, [ep('10.244.1.7'), ep('10.244.1.8'), ep('10.244.1.9')]]]),
      state([[{ ...web, sessionAffinity: { kind: 'None' as const } }, [ep('10.244.1.6')]], [{ ...fresh, nodePort: 30012, externalPolicyLocal: true }, [ep('10.244.1.7')]]]),
    ];
    let last = plan2;
    for (const s of steps) {
      const next = renderNftPlan({ state: s, config, full: false, lastApplied: last, changed: new Set(['default/web:', 'default/new:']) });
      expect(updateScript(last, next)).not.toContain('delete table');
      await backend.apply(next);
      await lab.run(other, 'nft', ['-f', '-'], { input: replaceScript(renderNftPlan({ state: s, config, full: true })) });
      expect(normalizeListing(await nft('list', 'table', 'ip', 'svcnet'))).toEqual(normalizeListing((await lab.run(other, 'nft', ['list', 'table', 'ip', 'svcnet'])).stdout));
      expect(await backend.detectDrift(next)).toBe(false);
      last = next;
    }
    expect(normalizeListing(await nft('list', 'table', 'ip', 'svcnet')).length).toBeGreaterThan(15);

    await backend.cleanup();
    expect((await lab.run(ns, 'nft', ['list', 'tables'])).stdout).not.toContain('svcnet');
    await backend.cleanup();
  });

  it('under churn, partial syncs leave the kernel with what a full sync writes, step after step', async () => {
    const seed = Number(process.env.SVCNET_CHURN_SEED ?? 20261127);
    const model = new ChurnModel(seededRandom(seed), { nodeName: 'n1' });
    const churned = await lab.addNamespace('c1');
    const fresh = await lab.addNamespace('c2');
    const b = new NftablesBackend({ exec: new ProcessNetExec(), netns: churned });
    const list = async (n: string) => normalizeListing((await lab.run(n, 'nft', ['list', 'table', 'ip', 'svcnet'])).stdout);
    let last: NftPlan | undefined;
    let partial = 0;
    for (let step = 0; step < 60; step++) {
      const changed = model.step();
      const s = model.state();
      const plan = b.render({ state: s, config, full: false, changed, lastApplied: last });
      if (!plan.full) partial++;
      await b.apply(plan);
      await lab.run(fresh, 'nft', ['-f', '-'], { input: replaceScript(renderNftPlan({ state: s, config, full: true })) });
      expect(await list(churned), `seed ${seed}, step ${step}, changed ${[...changed].join(' ')}`).toEqual(await list(fresh));
      // The digests the plan carries are what the kernel holds: no drift, and the check is one generation read.
      if (step % 10 === 9) expect(await b.detectDrift(plan), `seed ${seed}, step ${step}`).toBe(false);
      last = plan;
    }
    expect(partial).toBe(59);
    // Checked the long way too (as if someone else had committed): every digest and rule matches.
    await lab.run(churned, 'nft', ['add', 'table', 'ip', 'someone-else']);
    expect(await b.detectDrift(last!)).toBe(false);
  });
});
