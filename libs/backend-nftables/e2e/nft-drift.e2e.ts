/**
 * Drift with content, end to end: a Proxier with the nftables backend runs in
 * a throw-away namespace (nftd-<random>) with --sync-period 1.5 s; the table is
 * then edited by hand with `nft` the ways an operator or another program
 * might — an element pointing at another pod, a rule deleted or changed, a
 * chain flushed, an element deleted — and must be back to exactly what the
 * agent wrote within 2× the sync period. None of these edits change a chain's
 * name or a map's size except the deleted element, so a check of names and
 * sizes alone misses them. A commit to another table is not drift (no
 * rewrite: affinity entries stay). Needs root.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessNetExec } from '@svcnet/netexec';
import { Proxier } from '@svcnet/proxy-core';
import { buildEndpoints, buildService } from '@svcnet/proxy-core/testing';
import type { NodeConfig } from '@svcnet/proxy-core';
import { NetnsLab } from '@svcnet/testing';
import { NftablesBackend, renderNftPlan, replaceScript, setsOf, type NftPlan } from '../src/index.js';
import { normalizeListing } from './listing.js';

const notRoot = process.getuid?.() === 0 ? undefined : 'needs root to create network namespaces';
const SYNC_PERIOD_MS = 1500;
const config: NodeConfig = { nodeName: 'n1', nodeIPs: ['10.0.0.1'], clusterCIDR: '10.244.0.0/16', masqueradeAll: false, nodePortAddresses: [] };

const services = [
  buildService({ name: 'web', clusterIP: '10.96.0.10', type: 'NodePort', ports: [{ nodePort: 30080 }] }),
  buildService({ name: 'sticky', clusterIP: '10.96.0.20', sessionAffinity: 'ClientIP', sessionAffinityTimeoutSeconds: 600 }),
  buildService({ name: 'dns', clusterIP: '10.96.0.53', ports: [{ port: 53, protocol: 'UDP' }] }),
  buildService({ name: 'empty', clusterIP: '10.96.0.99' }),
];
const endpoints = [
  buildEndpoints({ name: 'web', addresses: ['10.244.1.2@n1', '10.244.2.2@n2'] }),
  buildEndpoints({ name: 'sticky', addresses: ['10.244.1.7@n1', '10.244.2.7@n2'] }),
  buildEndpoints({ name: 'dns', addresses: ['10.244.2.53@n2'], ports: [{ port: 5353, protocol: 'UDP' }] }),
];

describe.skipIf(notRoot !== undefined)(`nftables drift with content, repaired by the proxier${notRoot ? ` — skipped: ${notRoot}` : ''}`, () => {
  const lab = new NetnsLab({ prefix: `nftd-${randomBytes(3).toString('hex')}` });
  let ns = '';
  let reference: string[] = [];
  let proxier: Proxier<NftPlan>;
  const nft = async (...args: string[]) => (await lab.run(ns, 'nft', args)).stdout;
  const listing = async () => normalizeListing((await lab.run(ns, 'nft', ['list', 'table', 'ip', 'svcnet'], { allowFailure: true })).stdout);
  const handleOf = async (chain: string, rule: RegExp) => {
    const line = (await nft('-a', 'list', 'chain', 'ip', 'svcnet', chain)).split('\n').find((l) => rule.test(l));
    return /# handle (\d+)/.exec(line ?? '')![1]!;
  };
  const driftCount = async () => (await proxier.metrics.driftDetected.get()).values[0]?.value ?? 0;

  beforeAll(async () => {
    ns = await lab.addNamespace('n');
    proxier = new Proxier({ backend: new NftablesBackend({ exec: new ProcessNetExec(), netns: ns }), config, minSyncPeriodMs: 50, syncPeriodMs: SYNC_PERIOD_MS });
    for (const s of services) proxier.onServiceUpsert(s);
    for (const e of endpoints) proxier.onEndpointsUpsert(e);
    proxier.start();
    proxier.onSynced();
    // What a fresh full sync of the same state writes, for comparison.
    const ref = await lab.addNamespace('ref');
    await lab.run(ref, 'nft', ['-f', '-'], { input: replaceScript(renderNftPlan({ state: proxier.state(), config, full: true })) });
    reference = normalizeListing((await lab.run(ref, 'nft', ['list', 'table', 'ip', 'svcnet'])).stdout);
    const deadline = Date.now() + 10_000;
    while (JSON.stringify(await listing()) !== JSON.stringify(reference)) {
      if (Date.now() > deadline) throw new Error('the proxier never programmed the table');
      await new Promise((r) => setTimeout(r, 50));
    }
  });
  afterAll(async () => {
    await proxier?.stop();
    await lab.cleanup();
  });

  const cases: Array<{ name: string; edit: () => Promise<void> }> = [
    {
      name: 'an endpoint element rewritten to another pod',
      edit: async () => {
        await lab.run(ns, 'nft', ['-f', '-'], {
          input: 'delete element ip svcnet cluster-endpoints-tcp { 10.96.0.10 . 80 . 0 }\nadd element ip svcnet cluster-endpoints-tcp { 10.96.0.10 . 80 . 0 : 10.244.9.9 . 8080 }\n',
        });
      },
    },
    {
      name: 'a node port dispatched elsewhere',
      edit: async () => {
        await lab.run(ns, 'nft', ['-f', '-'], { input: 'delete element ip svcnet service-nodeports { tcp . 30080 }\nadd element ip svcnet service-nodeports { tcp . 30080 : drop }\n' });
      },
    },
    {
      name: 'a rule deleted in a shared pick chain',
      edit: async () => {
        await nft('delete', 'rule', 'ip', 'svcnet', 'cluster-tcp-2', 'handle', await handleOf('cluster-tcp-2', /mark-for-masquerade/));
      },
    },
    {
      name: 'a rule changed in place',
      edit: async () => {
        await nft('replace', 'rule', 'ip', 'svcnet', 'mark-for-masquerade', 'handle', await handleOf('mark-for-masquerade', /meta mark/), 'meta', 'mark', 'set', 'meta', 'mark', '|', '0x8000');
      },
    },
    { name: "an affinity service's chain flushed", edit: async () => void (await nft('flush', 'chain', 'ip', 'svcnet', (await listing()).find((b) => b.startsWith('chain svc-'))!.split('\n')[0]!.slice(6))) },
    { name: 'the dispatch chain flushed', edit: async () => void (await nft('flush', 'chain', 'ip', 'svcnet', 'services')) },
    { name: 'a hairpin element deleted', edit: async () => void (await nft('delete', 'element', 'ip', 'svcnet', 'hairpin-ips', '{ 10.96.0.10 . tcp . 80 . 10.244.1.2 . 10.244.1.2 }')) },
  ];

  it.each(cases)('$name: repaired within 2× --sync-period', async ({ edit }) => {
    // Let the last repair's own bookkeeping (the rules read back right after it) finish first: an
    // edit inside that window is still repaired, but one sync period later.
    await new Promise((r) => setTimeout(r, 300));
    const before = await driftCount();
    await edit();
    const editedAt = Date.now();
    expect(await listing()).not.toEqual(reference);
    let repairedMs = -1;
    while (Date.now() - editedAt < 4 * SYNC_PERIOD_MS) {
      if (JSON.stringify(await listing()) === JSON.stringify(reference)) {
        repairedMs = Date.now() - editedAt;
        break;
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(repairedMs, 'never repaired').toBeGreaterThanOrEqual(0);
    expect(repairedMs).toBeLessThanOrEqual(2 * SYNC_PERIOD_MS);
    expect(await driftCount()).toBe(before + 1);
  });

  it('a commit to another table is not drift: nothing is rewritten, affinity entries stay', async () => {
    const affSet = [...setsOf(proxier.lastPlan()!).keys()].find((s) => s.startsWith('aff-'))!;
    await nft('add', 'element', 'ip', 'svcnet', affSet, '{ 10.9.9.9 }');
    const before = await driftCount();
    await lab.run(ns, 'nft', ['-f', '-'], { input: 'table ip someone-else {\n\tchain c {\n\t\ttype filter hook input priority 0; policy accept;\n\t}\n}\n' });
    await new Promise((r) => setTimeout(r, 2.5 * SYNC_PERIOD_MS));
    expect(await driftCount()).toBe(before);
    expect(await nft('list', 'set', 'ip', 'svcnet', affSet)).toContain('10.9.9.9');
    expect(proxier.status().lastError).toBeUndefined();
  });
});
