/**
 * Large restores on a real kernel (namespaces `ipt-bk-*`; root): with
 * iptables-nft, big inputs list the table first (`-S`) so the restore does not
 * spend minutes on its chain-name list. That must keep every rule of other
 * programs in the same tables, in an empty namespace (no nat table yet) and
 * in one where others were first, across a restart and a cleanup.
 */
import { randomBytes } from 'node:crypto';
import { ProcessNetExec } from '@svcnet/netexec';
import type { ExecRequest, ExecResult, NetExec } from '@svcnet/netexec';
import { endpointsOf, servicePortsOf } from '@svcnet/proxy-core';
import { buildEndpoints, buildService } from '@svcnet/proxy-core/testing';
import type { EndpointInfo, NodeConfig, ProxyState, ServicePortInfo } from '@svcnet/proxy-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IptablesBackend, parseSave } from '../src/index.js';
import type { IptablesVariant } from '../src/index.js';

const isRoot = process.getuid?.() === 0;
const CONFIG: NodeConfig = { nodeName: 'n1', nodeIPs: ['10.244.1.1'], clusterCIDR: '10.244.0.0/16', masqueradeAll: false, nodePortAddresses: [] };
/** Enough chains (3,600 + shared) that a first sync lists the table first with iptables-nft. */
const SERVICES = 600;

/** ProcessNetExec that keeps the restore inputs it was given. */
class RecordingExec implements NetExec {
  readonly restores: string[] = [];
  private readonly inner = new ProcessNetExec();
  run(req: ExecRequest): Promise<ExecResult> {
    if (req.file.endsWith('-restore')) this.restores.push(String(req.input ?? ''));
    return this.inner.run(req);
  }
}

function bigState(count: number): ProxyState {
  const s = new Map<string, ServicePortInfo>();
  const e = new Map<string, readonly EndpointInfo[]>();
  for (let k = 0; k < count; k++) {
    const name = `svc-${k}`;
    const svc = buildService({ namespace: 'bulk', name, clusterIP: `10.96.${k >> 8}.${k & 255}`, type: 'NodePort', ports: [{ name: 'http', port: 80, nodePort: 30000 + k }] });
    const addresses = [1, 2, 3, 4, 5].map((j) => `10.${100 + j}.${k >> 8}.${k & 255}@n1`);
    for (const [id, v] of servicePortsOf(svc)) s.set(id, v);
    for (const [id, v] of endpointsOf(buildEndpoints({ namespace: 'bulk', name, addresses, ports: [{ name: 'http', port: 8080 }] }), 'n1')) e.set(id, v);
  }
  return { services: s, endpoints: e };
}

/** Everything in the tables that is not ours: chains, and rules that do not jump into a KUBE- chain. */
async function others(exec: NetExec, ns: string, v: IptablesVariant): Promise<string[]> {
  const out: string[] = [];
  const saved = parseSave((await exec.run({ file: `iptables-${v}-save`, args: [], netns: ns })).stdout);
  for (const [table, t] of saved) {
    for (const c of [...t.chains].sort()) if (!c.startsWith('KUBE-')) out.push(`${table} :${c}`);
    for (const [c, lines] of t.rules) if (!c.startsWith('KUBE-')) for (const l of lines) if (!/ -j KUBE-/.test(l)) out.push(`${table} ${l}`);
  }
  return out.sort();
}

async function kubeChainCount(exec: NetExec, ns: string, v: IptablesVariant): Promise<number> {
  const saved = parseSave((await exec.run({ file: `iptables-${v}-save`, args: [], netns: ns })).stdout);
  let n = 0;
  for (const t of saved.values()) for (const c of t.chains) if (c.startsWith('KUBE-')) n++;
  return n;
}

describe.skipIf(!isRoot).each(['nft', 'legacy'] as const)('large restores keep other programs\' rules (iptables-%s, real kernel)', (variant) => {
  const id = randomBytes(3).toString('hex');
  const [empty, shared] = [`ipt-bk-e-${id}`, `ipt-bk-s-${id}`];
  const exec = new RecordingExec();
  const state = bigState(SERVICES);
  const listed = (text: string | undefined) => (text ?? '').split('\n').includes('-S');
  let othersBefore: string[];

  beforeAll(async () => {
    for (const ns of [empty, shared]) await exec.run({ file: 'ip', args: ['netns', 'add', ns] });
    const ipt = (args: string[]) => exec.run({ file: `iptables-${variant}`, args, netns: shared });
    // Another program's chains and rules in both tables, in built-in and in its own chains.
    await ipt(['-t', 'nat', '-N', 'OTHER-NAT']);
    await ipt(['-t', 'nat', '-A', 'OTHER-NAT', '-s', '192.0.2.1/32', '-j', 'RETURN']);
    await ipt(['-t', 'nat', '-A', 'PREROUTING', '-j', 'OTHER-NAT']);
    await ipt(['-t', 'nat', '-A', 'POSTROUTING', '-s', '198.51.100.0/24', '-j', 'MASQUERADE']);
    await ipt(['-t', 'nat', '-A', 'OUTPUT', '-d', '203.0.113.7/32', '-p', 'tcp', '--dport', '25', '-j', 'DNAT', '--to-destination', '192.0.2.25:2525']);
    await ipt(['-t', 'filter', '-N', 'OTHER-FILTER']);
    await ipt(['-t', 'filter', '-A', 'OTHER-FILTER', '-p', 'tcp', '--dport', '22', '-j', 'ACCEPT']);
    await ipt(['-t', 'filter', '-A', 'INPUT', '-j', 'OTHER-FILTER']);
    await ipt(['-t', 'filter', '-A', 'FORWARD', '-s', '192.0.2.2/32', '-j', 'DROP']);
    othersBefore = await others(exec, shared, variant);
  });

  afterAll(async () => {
    for (const ns of [empty, shared]) await exec.run({ file: 'ip', args: ['netns', 'del', ns], allowFailure: true });
  });

  it('first sync into an empty namespace (no nat or filter table yet)', async () => {
    const b = new IptablesBackend({ exec, variant, netns: empty, conntrack: false });
    const plan = b.render({ state, config: CONFIG, full: true, changed: new Set(), lastApplied: undefined });
    await b.apply(plan);
    expect(listed(exec.restores.at(-1))).toBe(variant === 'nft');
    expect(await kubeChainCount(exec, empty, variant)).toBe(plan.nat.size + plan.filter.size);
    expect(await b.detectDrift(plan)).toBe(false);
  });

  it('first sync, restart and cleanup next to another program\'s chains', async () => {
    const first = new IptablesBackend({ exec, variant, netns: shared, conntrack: false });
    const plan = first.render({ state, config: CONFIG, full: true, changed: new Set(), lastApplied: undefined });
    await first.apply(plan);
    expect(listed(exec.restores.at(-1))).toBe(variant === 'nft');
    expect(await others(exec, shared, variant)).toEqual(othersBefore);
    expect(await first.detectDrift(plan)).toBe(false);

    // A restarted agent: a full sync over its own 600 services still in the kernel.
    const restarted = new IptablesBackend({ exec, variant, netns: shared, conntrack: false });
    const again = restarted.render({ state, config: CONFIG, full: true, changed: new Set(), lastApplied: undefined });
    await restarted.apply(again);
    expect(listed(exec.restores.at(-1))).toBe(variant === 'nft');
    expect(await others(exec, shared, variant)).toEqual(othersBefore);
    expect(await restarted.detectDrift(again)).toBe(false);

    await restarted.cleanup();
    expect(listed(exec.restores.at(-1))).toBe(variant === 'nft');
    expect(await kubeChainCount(exec, shared, variant)).toBe(0);
    expect(await others(exec, shared, variant)).toEqual(othersBefore);
  });
});
