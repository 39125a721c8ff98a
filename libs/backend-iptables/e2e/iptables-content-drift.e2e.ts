/**
 * Drift with content, on a real kernel inside throw-away namespaces (prefix
 * `ipt-cd-`), for iptables-legacy and iptables-nft. Needs root. A rule
 * rewritten in place keeps the rule count, so only a content check sees it.
 */
import { randomBytes } from 'node:crypto';
import { ProcessNetExec } from '@svcnet/netexec';
import { Proxier } from '@svcnet/proxy-core';
import { buildEndpoints, buildService } from '@svcnet/proxy-core/testing';
import type { NodeConfig } from '@svcnet/proxy-core';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IptablesBackend, endpointChainName, parseSave, serviceChainNames } from '../src/index.js';
import type { IptablesPlan } from '../src/index.js';

const exec = new ProcessNetExec();
const isRoot = process.getuid?.() === 0;
const CONFIG: NodeConfig = { nodeName: 'n1', nodeIPs: ['10.244.1.1'], clusterCIDR: '10.244.0.0/16', masqueradeAll: false, nodePortAddresses: [] };
/** Short, so the test is quick; the repair must come within two of these. */
const SYNC_PERIOD_MS = 2000;

const web = buildService({ name: 'web', clusterIP: '10.96.0.10', ports: [{ name: 'http', port: 80, targetPort: 8080 }] });
const webEps = buildEndpoints({ name: 'web', addresses: ['10.244.1.2@n1', '10.244.1.3@n1'], ports: [{ name: 'http', port: 8080 }] });
const names = serviceChainNames({ namespace: 'default', name: 'web', portName: 'http', protocol: 'TCP' });

describe.skipIf(!isRoot).each(['legacy', 'nft'] as const)('content drift on iptables-%s (real kernel, netns)', (variant) => {
  const ns = `ipt-cd-${variant}-${randomBytes(3).toString('hex')}`;
  const ipt = (args: string[]) => exec.run({ file: `iptables-${variant}`, args, netns: ns });
  const nat = async () => parseSave((await exec.run({ file: `iptables-${variant}-save`, args: ['-t', 'nat'], netns: ns })).stdout).get('nat')!;
  let backend: IptablesBackend;
  let proxier: Proxier<IptablesPlan>;
  let registry: Registry;

  beforeAll(async () => {
    await exec.run({ file: 'ip', args: ['netns', 'add', ns] });
    backend = new IptablesBackend({ exec, variant, netns: ns, conntrack: false });
    registry = new Registry();
    proxier = new Proxier({ backend, config: CONFIG, minSyncPeriodMs: 10, syncPeriodMs: SYNC_PERIOD_MS, metrics: registry });
    proxier.onServiceUpsert(web);
    proxier.onEndpointsUpsert(webEps);
    proxier.start();
    proxier.onSynced();
    await proxier.syncNow();
    expect(proxier.status().lastError).toBeUndefined();
  });

  afterAll(async () => {
    await proxier?.stop();
    await exec.run({ file: 'ip', args: ['netns', 'del', ns], allowFailure: true });
  });

  /** Polls until `done` holds or the deadline passes; returns the time it took. */
  async function within(ms: number, done: () => Promise<boolean>): Promise<number> {
    const started = performance.now();
    while (performance.now() - started < ms) {
      if (await done()) return performance.now() - started;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`not repaired within ${ms} ms`);
  }

  const driftCount = async () => (await registry.getSingleMetric('svcnet_sync_proxy_rules_drift_detected_total')!.get()).values[0]?.value ?? 0;

  it('a DNAT rule rewritten in place (same rule count, another pod) is repaired within 2x the sync period', async () => {
    const sep = endpointChainName(names.portName, 'TCP', '10.244.1.3:8080');
    const before = (await nat()).rules.get(sep)!;
    const dnat = before.findIndex((l) => l.includes('-j DNAT'));
    expect(before[dnat]).toContain('--to-destination 10.244.1.3:8080');
    const drifts = await driftCount();
    // Rewrite the rule in place: the same matches, the traffic goes to another pod.
    await ipt(['-t', 'nat', '-R', sep, String(dnat + 1), '-p', 'tcp', '-m', 'comment', '--comment', 'default/web:http', '-m', 'tcp', '-j', 'DNAT', '--to-destination', '10.244.1.99:8080']);
    expect((await nat()).rules.get(sep)).toHaveLength(before.length);
    const took = await within(2 * SYNC_PERIOD_MS, async () => (await nat()).rules.get(sep)?.[dnat]?.includes('10.244.1.3:8080') ?? false);
    expect(took).toBeLessThan(2 * SYNC_PERIOD_MS);
    expect(await driftCount()).toBe(drifts + 1);
    expect(backend.lastDrift()).toMatchObject({ table: 'nat', chain: sep });
    expect(backend.lastDrift()!.reason).toContain('10.244.1.99:8080');
  });

  it('a probability changed in place in the service chain is repaired too', async () => {
    const before = (await nat()).rules.get(names.svc)!;
    const i = before.findIndex((l) => l.includes('--probability'));
    const target = / -j (\S+)$/.exec(before[i]!)![1]!;
    await ipt(['-t', 'nat', '-R', names.svc, String(i + 1), '-m', 'statistic', '--mode', 'random', '--probability', '0.99', '-j', target]);
    await within(2 * SYNC_PERIOD_MS, async () => (await nat()).rules.get(names.svc)?.[i] === before[i]);
  });

  it('finds nothing when nothing changed (no false drift from how iptables-save prints our rules)', async () => {
    const plan = proxier.lastPlan()!;
    expect(await backend.detectDrift(plan)).toBe(false);
    expect(await backend.detectDrift(plan)).toBe(false);
  });
});
