import { describe, expect, it } from 'vitest';
import type { ExecRequest, ExecResult, NetExec } from '@svcnet/netexec';
import { buildEndpoint, buildProxyState, buildServicePort } from '@svcnet/proxy-core/testing';
import type { EndpointInfo, NodeConfig, ServicePortInfo } from '@svcnet/proxy-core';
import { NftablesBackend } from './nftables-backend.js';
import { renderNftPlan, type NftPlan } from './render.js';

const config: NodeConfig = { nodeName: 'node1', nodeIPs: ['192.168.77.11'], clusterCIDR: '10.244.0.0/16', masqueradeAll: false, nodePortAddresses: [] };
const svc = (name: string, clusterIP: string, over: Partial<ServicePortInfo> = {}): ServicePortInfo => buildServicePort({ name, clusterIP, port: 80, ...over });
const ep = (ip: string): EndpointInfo => buildEndpoint(ip, 8080, { isLocal: true, nodeName: 'node1' });
type Entries = ReadonlyArray<readonly [ServicePortInfo, EndpointInfo[]]>;
const render = (entries: Entries, last?: NftPlan, changed?: string[]) =>
  renderNftPlan({ state: buildProxyState(entries), config, full: last === undefined, lastApplied: last, changed: changed ? new Set(changed) : undefined });

/**
 * nft and the netlink probe as a kernel would answer them: each `nft -f`
 * commits one transaction (the generation goes up); the probe reports the
 * generation and fixed rule digests. Any call can be made to fail.
 */
class FakeKernel implements NetExec {
  gen = 1;
  calls: ExecRequest[] = [];
  fail: { file: string; exitCode: number; stderr: string } | undefined;

  async run(req: ExecRequest): Promise<ExecResult> {
    this.calls.push(req);
    const ok = (stdout = ''): ExecResult => ({ stdout, stderr: '', exitCode: 0, durationMs: 0 });
    if (this.fail?.file === req.file) {
      if (!req.allowFailure) throw new Error(`${req.file}: ${this.fail.stderr}`);
      return { stdout: '', stderr: this.fail.stderr, exitCode: this.fail.exitCode, durationMs: 0 };
    }
    if (req.file === 'nft' && req.args[0] === '-f') this.gen++;
    if (req.file === 'perl') return ok(req.args[3] === 'rules' ? `gen ${this.gen}\nchain services 2 1\ngen ${this.gen}\n` : `gen ${this.gen}\n`);
    return ok();
  }

  /** The calls since the last look, as `file args…` (perl's script left out). */
  take(): string[] {
    const out = this.calls.map((c) => (c.file === 'perl' ? `perl ${c.args.slice(3).join(' ')}` : `${c.file} ${c.args.join(' ')}`));
    this.calls = [];
    return out;
  }
}

describe('NftablesBackend', () => {
  const a = svc('a', '10.96.0.10');
  const b = svc('b', '10.96.0.11');

  it('replaces the table in one nft transaction, the generation read before and the rules after', async () => {
    const kernel = new FakeKernel();
    const backend = new NftablesBackend({ exec: kernel, netns: 'n1' });
    const r = await backend.apply(render([[a, [ep('10.244.1.2')]]]));
    expect(kernel.calls.map((c) => c.netns)).toEqual(['n1', 'n1', 'n1']);
    expect(String(kernel.calls[1]!.input)).toMatch(/^add table ip svcnet\ndelete table ip svcnet\ntable ip svcnet \{\n/);
    expect(kernel.take()).toEqual(['perl gen', 'nft -f -', 'perl rules']);
    expect(r.calls).toBe(3);
  });

  it('partial syncs: elements only = one nft call; chains written = the generation read before and the rules after; nothing changed = no call', async () => {
    const kernel = new FakeKernel();
    const backend = new NftablesBackend({ exec: kernel });
    const first = render([[a, [ep('10.244.1.2')]], [b, [ep('10.244.1.3')]]]);
    await backend.apply(first);
    kernel.take();
    const second = render([[a, [ep('10.244.1.2')]], [b, [ep('10.244.1.4')]]], first, ['default/b:']);
    await backend.apply(second);
    expect(kernel.take()).toEqual(['nft -f -']);
    const third = render([[a, [ep('10.244.1.2')]], [b, [ep('10.244.1.4'), ep('10.244.1.5')]]], second, ['default/b:']);
    await backend.apply(third);
    expect(kernel.take()).toEqual(['perl gen', 'nft -f -', 'perl rules']);
    expect((await backend.apply(render([[a, [ep('10.244.1.2')]], [b, [ep('10.244.1.4'), ep('10.244.1.5')]]], third, ['default/a:']))).calls).toBe(0);
    expect(kernel.take()).toEqual([]);
    expect(await backend.detectDrift(third)).toBe(false);
    expect(kernel.take()).toEqual(['perl gen']);
  });

  it('a failed nft run is a BackendApplyError, and the next apply replaces the table', async () => {
    const kernel = new FakeKernel();
    const backend = new NftablesBackend({ exec: kernel });
    const first = render([[a, [ep('10.244.1.2')]]]);
    await backend.apply(first);
    kernel.fail = { file: 'nft', exitCode: 1, stderr: 'Error: syntax error' };
    const second = render([[a, [ep('10.244.1.3')]]], first, ['default/a:']);
    await expect(backend.apply(second)).rejects.toThrow(/nftables apply failed/);
    kernel.fail = undefined;
    kernel.take();
    await backend.apply(render([[a, [ep('10.244.1.3')]]], second, ['default/a:']));
    expect(String(kernel.calls.find((c) => c.file === 'nft')!.input)).toMatch(/^add table ip svcnet\ndelete table ip svcnet\n/);
  });

  it('a probe that cannot run does not fail the sync; the drift check then says so', async () => {
    const kernel = new FakeKernel();
    const warnings: string[] = [];
    const logger = { debug: () => {}, info: () => {}, error: () => {}, warn: (_o: object, msg?: string) => warnings.push(msg ?? '') };
    const backend = new NftablesBackend({ exec: kernel, logger });
    kernel.fail = { file: 'perl', exitCode: 127, stderr: 'perl: not found' };
    const p = render([[a, [ep('10.244.1.2')]]]);
    await backend.apply(p);
    expect(warnings).toEqual(['reading the nftables generation failed; the next drift check rewrites the table']);
    await expect(backend.detectDrift(p)).rejects.toThrow(/perl netlink probe: exit 127: perl: not found/);
  });

  it('deletes UDP conntrack entries of endpoints that went away (not on the first apply)', async () => {
    const kernel = new FakeKernel();
    const backend = new NftablesBackend({ exec: kernel });
    const dns = svc('dns', '10.96.0.53', { protocol: 'UDP', port: 53 });
    const first = render([[dns, [ep('10.244.1.3'), ep('10.244.2.3')]]]);
    await backend.apply(first);
    expect(kernel.calls.filter((c) => c.file === 'conntrack')).toEqual([]);
    await backend.apply(render([[dns, [ep('10.244.2.3')]]], first, ['default/dns:']));
    expect(kernel.calls.filter((c) => c.file === 'conntrack').map((c) => c.args.join(' '))).toEqual(['-D -p udp --orig-dst 10.96.0.53 --dst-nat 10.244.1.3']);
  });

  it('drift found is explained in the log', async () => {
    const kernel = new FakeKernel();
    const warnings: object[] = [];
    const logger = { debug: () => {}, info: () => {}, error: () => {}, warn: (o: object) => warnings.push(o) };
    const backend = new NftablesBackend({ exec: kernel, logger });
    const p = render([[a, [ep('10.244.1.2')]]]);
    await backend.apply(p);
    kernel.gen++; // someone else committed; the fake's answer lacks most chains
    expect(await backend.detectDrift(p)).toBe(true);
    expect(warnings[0]).toMatchObject({ reasons: expect.arrayContaining([expect.stringMatching(/^chains missing: /)]) });
  });

  it('cleanup deletes the table; no table is fine', async () => {
    const kernel = new FakeKernel();
    await new NftablesBackend({ exec: kernel }).cleanup();
    expect(kernel.take()).toEqual(['nft delete table ip svcnet']);
    kernel.fail = { file: 'nft', exitCode: 1, stderr: 'Error: No such file or directory' };
    await new NftablesBackend({ exec: kernel }).cleanup();
    kernel.fail = { file: 'nft', exitCode: 1, stderr: 'Error: Operation not permitted' };
    await expect(new NftablesBackend({ exec: kernel }).cleanup()).rejects.toThrow(/Operation not permitted/);
  });

  it('describe: what is skipped, then the table', () => {
    const p = render([[svc('v6', 'fd00::1'), []], [a, [ep('10.244.1.2')]]]);
    const text = new NftablesBackend({ exec: new FakeKernel() }).describe(p);
    expect(text.split('\n')[0]).toBe('# skipped default/v6:: cluster IP fd00::1 is not IPv4');
    expect(text).toContain('10.96.0.10 . tcp . 80 comment "default/a:" : goto cluster-tcp-1');
  });
});
