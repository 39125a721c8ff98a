import { describe, expect, it } from 'vitest';
import { FakeNetExec, type ExecRequest } from '@svcnet/netexec';
import { IpvsBackend } from './ipvs-backend.js';
import { renderIpvsPlan } from './render.js';
import { config, ep, stateOf, svc } from './test-fixtures.js';
import type { IpvsPlan } from './plan.js';

const web = svc({ name: 'web', clusterIP: '10.96.0.10', port: 80 });
const dns = svc({ name: 'dns', clusterIP: '10.96.0.53', port: 53, protocol: 'UDP' });

function plan(entries: Parameters<typeof stateOf>[0], full = false): IpvsPlan {
  return renderIpvsPlan({ state: stateOf(entries), config, scheduler: 'rr', full });
}

/** A fake kernel: empty on first read (kube-ipvs0 missing). */
function emptyKernel(): FakeNetExec {
  return new FakeNetExec().on({ file: 'ip', match: (r) => r.args[0] === '-o', fail: { exitCode: 1, stderr: 'Device "kube-ipvs0" does not exist.' } });
}

const summary = (calls: ExecRequest[]): string[] => calls.map((c) => [c.file, ...c.args].join(' '));

describe('IpvsBackend.apply', () => {
  it('first sync reads the kernel, then writes with one call per tool', async () => {
    const exec = emptyKernel();
    const b = new IpvsBackend({ exec });
    const r = await b.apply(plan([[web, [ep('10.244.1.2', 8080)]]], true));
    expect(summary(exec.calls)).toEqual([
      'sysctl -w net.ipv4.vs.conntrack=1 net.ipv4.vs.expire_nodest_conn=1 net.ipv4.vs.expire_quiescent_template=1',
      'ip -o addr show dev kube-ipvs0',
      'ipvsadm -Sn',
      'ipset save',
      'iptables-save',
      'ipset -exist restore',
      'ip -batch -',
      'ipvsadm -R',
      'iptables-restore --noflush',
    ]);
    expect(r.calls).toBe(9);
    expect(exec.callsTo('ipvsadm')[1]!.input).toBe('-A -t 10.96.0.10:80 -s rr\n-a -t 10.96.0.10:80 -r 10.244.1.2:8080 -m -w 1\n');
    expect(exec.callsTo('ip')[1]!.input).toBe('link add kube-ipvs0 type dummy\naddr add 10.96.0.10/32 dev kube-ipvs0\n');
  });

  it('an incremental sync changes only what changed, without reading the kernel', async () => {
    const exec = emptyKernel();
    const b = new IpvsBackend({ exec });
    await b.apply(plan([[web, [ep('10.244.1.2', 8080)]]], true));
    exec.calls.length = 0;
    await b.apply(plan([[web, [ep('10.244.1.2', 8080), ep('10.244.2.2', 8080)]]]));
    expect(summary(exec.calls)).toEqual(['ipvsadm -R']);
    expect(exec.calls[0]!.input).toBe('-a -t 10.96.0.10:80 -r 10.244.2.2:8080 -m -w 1\n');
    exec.calls.length = 0;
    await b.apply(plan([[web, [ep('10.244.1.2', 8080), ep('10.244.2.2', 8080)]]]));
    expect(exec.calls).toEqual([]);
  });

  it('a removed TCP real server with connections drains at weight 0, then goes after the bound', async () => {
    const clock = { t: 0, now: () => clock.t };
    const exec = emptyKernel().on({
      file: 'ipvsadm',
      match: (r) => r.args[0] === '-Ln',
      result: { stdout: 'TCP  10.96.0.10:80 rr\n  -> 10.244.1.2:8080              Masq    1      0          0\n  -> 10.244.2.2:8080              Masq    1      3          1\n' },
    });
    const b = new IpvsBackend({ exec, clock, gracefulTerminationTimeoutMs: 10_000 });
    await b.apply(plan([[web, [ep('10.244.1.2', 8080), ep('10.244.2.2', 8080)]]], true));
    exec.calls.length = 0;
    await b.apply(plan([[web, [ep('10.244.1.2', 8080)]]]));
    // Weight 0 in the same single call; connections are checked by later syncs.
    expect(summary(exec.calls)).toEqual(['ipvsadm -R']);
    expect(exec.calls[0]!.input).toBe('-e -t 10.96.0.10:80 -r 10.244.2.2:8080 -m -w 0\n');
    expect(b.pendingDrains).toBe(1);
    // Still busy, bound not reached: nothing to write.
    exec.calls.length = 0;
    clock.t = 5_000;
    await b.apply(plan([[web, [ep('10.244.1.2', 8080)]]]));
    expect(summary(exec.calls)).toEqual(['ipvsadm -Ln -t 10.96.0.10:80']);
    exec.calls.length = 0;
    clock.t = 10_001;
    await b.apply(plan([[web, [ep('10.244.1.2', 8080)]]]));
    expect(summary(exec.calls)).toEqual(['ipvsadm -R']);
    expect(exec.calls[0]!.input).toBe('-d -t 10.96.0.10:80 -r 10.244.2.2:8080\n');
    expect(b.pendingDrains).toBe(0);
  });

  it('a drained real server (no connections) is deleted by the next sync; one coming back is restored to weight 1', async () => {
    const exec = emptyKernel().on({
      file: 'ipvsadm',
      match: (r) => r.args[0] === '-Ln',
      result: { stdout: 'TCP  10.96.0.10:80 rr\n  -> 10.244.2.2:8080              Masq    1      1          0\n' },
    });
    const b = new IpvsBackend({ exec });
    await b.apply(plan([[web, [ep('10.244.1.2', 8080), ep('10.244.2.2', 8080)]]], true));
    await b.apply(plan([[web, [ep('10.244.2.2', 8080)]]]));
    exec.calls.length = 0;
    await b.apply(plan([[web, [ep('10.244.2.2', 8080)]]]));
    expect(summary(exec.calls)).toEqual(['ipvsadm -Ln -t 10.96.0.10:80', 'ipvsadm -R']);
    expect(exec.calls[1]!.input).toBe('-d -t 10.96.0.10:80 -r 10.244.1.2:8080\n');
    exec.calls.length = 0;
    await b.apply(plan([[web, [ep('10.244.1.2', 8080), ep('10.244.2.2', 8080)]]]));
    expect(exec.calls.map((c) => c.input)).toEqual(['-a -t 10.96.0.10:80 -r 10.244.1.2:8080 -m -w 1\n']);
    // Now drain 10.244.2.2 (1 active) and bring it back before it finished.
    await b.apply(plan([[web, [ep('10.244.1.2', 8080)]]]));
    expect(b.pendingDrains).toBe(1);
    exec.calls.length = 0;
    await b.apply(plan([[web, [ep('10.244.1.2', 8080), ep('10.244.2.2', 8080)]]]));
    expect(exec.calls.map((c) => c.input)).toEqual(['-e -t 10.96.0.10:80 -r 10.244.2.2:8080 -m -w 1\n']);
    expect(b.pendingDrains).toBe(0);
  });

  it('a removed UDP real server goes at once and its conntrack entries are deleted', async () => {
    const exec = emptyKernel();
    const b = new IpvsBackend({ exec });
    await b.apply(plan([[dns, [ep('10.244.1.3', 53), ep('10.244.2.3', 53)]]], true));
    exec.calls.length = 0;
    await b.apply(plan([[dns, [ep('10.244.1.3', 53)]]]));
    expect(summary(exec.calls)).toEqual(['ipvsadm -R', 'conntrack -D -p udp --orig-dst 10.96.0.53 --dst-nat 10.244.2.3']);
    expect(exec.calls[0]!.input).toBe('-d -u 10.96.0.53:53 -r 10.244.2.3:53\n');
  });

  it('a deleted service loses its virtual service, address and set entries', async () => {
    const exec = emptyKernel();
    const b = new IpvsBackend({ exec });
    await b.apply(plan([[web, [ep('10.244.1.2', 8080)]], [dns, []]], true));
    exec.calls.length = 0;
    await b.apply(plan([[web, [ep('10.244.1.2', 8080)]]]));
    expect(Object.fromEntries(exec.calls.map((c) => [c.file, c.input]))).toEqual({
      ipset: 'del KUBE-CLUSTER-IP 10.96.0.53,udp:53\ndel KUBE-NO-ENDPOINTS 10.96.0.53,udp:53\n',
      ip: 'addr del 10.96.0.53/32 dev kube-ipvs0\n',
      ipvsadm: '-D -u 10.96.0.53:53\n',
    });
  });

  it('external IPs are bound to kube-ipvs0 (IPVS only sees local addresses) and go with their service', async () => {
    const ext = svc({ name: 'ext', clusterIP: '10.96.0.20', port: 80, externalIPs: ['192.0.2.7'] });
    const exec = emptyKernel();
    const b = new IpvsBackend({ exec });
    await b.apply(plan([[web, [ep('10.244.1.2', 8080)]], [ext, [ep('10.244.1.3', 8080)]]], true));
    const first = Object.fromEntries(exec.calls.map((c) => [c.file, String(c.input ?? '')]));
    expect(first.ip).toContain('addr add 192.0.2.7/32 dev kube-ipvs0');
    expect(first.ipvsadm).toContain('-A -t 192.0.2.7:80 -s rr');
    exec.calls.length = 0;
    await b.apply(plan([[web, [ep('10.244.1.2', 8080)]]]));
    const after = Object.fromEntries(exec.calls.map((c) => [c.file, String(c.input ?? '')]));
    expect(after.ipvsadm).toContain('-D -t 192.0.2.7:80');
    expect(after.ip).toContain('addr del 192.0.2.7/32 dev kube-ipvs0');
  });

  it('--ipvs-strict-arp adds arp_ignore=1 and arp_announce=2 to the sysctls of the first apply', async () => {
    const exec = emptyKernel();
    await new IpvsBackend({ exec, strictArp: true }).apply(plan([[web, [ep('10.244.1.2', 8080)]]], true));
    expect(summary(exec.callsTo('sysctl'))).toEqual([
      'sysctl -w net.ipv4.vs.conntrack=1 net.ipv4.vs.expire_nodest_conn=1 net.ipv4.vs.expire_quiescent_template=1 net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2',
    ]);
  });

  it('a failed call is a BackendApplyError and the next sync reads the kernel again', async () => {
    const exec = emptyKernel().on({ file: 'ipvsadm', match: (r) => r.args[0] === '-R', fail: { exitCode: 2, stderr: 'Memory allocation problem' } });
    const b = new IpvsBackend({ exec });
    await expect(b.apply(plan([[web, []]], true))).rejects.toMatchObject({ name: 'BackendApplyError', mode: 'ipvs' });
    exec.calls.length = 0;
    await expect(b.apply(plan([[web, []]]))).rejects.toThrow(/Memory allocation/);
    expect(exec.callsTo('ipvsadm')[0]!.args).toEqual(['-Sn']);
  });

  it('a refused iptables-restore is reported to the observer (an ipvsadm failure is not)', async () => {
    const exec = emptyKernel().on({ file: 'iptables-restore', fail: { exitCode: 1, stderr: 'iptables-restore: line 3 failed' } });
    const b = new IpvsBackend({ exec });
    let restoreFailures = 0;
    b.observe({ iptablesRestoreFailed: () => restoreFailures++ });
    await expect(b.apply(plan([[web, []]], true))).rejects.toThrow(/line 3 failed/);
    expect(restoreFailures).toBe(1);
    const other = new IpvsBackend({ exec: emptyKernel().on({ file: 'ipvsadm', match: (r) => r.args[0] === '-R', fail: { exitCode: 2, stderr: 'no memory' } }) });
    other.observe({ iptablesRestoreFailed: () => restoreFailures++ });
    await expect(other.apply(plan([[web, []]], true))).rejects.toThrow(/no memory/);
    expect(restoreFailures).toBe(1);
  });

  it('rejects an unknown scheduler at construction', () => {
    expect(() => new IpvsBackend({ exec: new FakeNetExec(), scheduler: 'fastest' })).toThrow(/ipvs-scheduler/);
  });
});

describe('IpvsBackend kernel read-back', () => {
  const kernel = (ipvs: string, addrs: string): FakeNetExec =>
    new FakeNetExec()
      .on({ file: 'ipvsadm', match: (r) => r.args[0] === '-Sn', result: { stdout: ipvs } })
      .on({ file: 'ip', match: (r) => r.args[0] === '-o', result: { stdout: addrs } });

  it('a full sync removes stale virtual services it owns and leaves foreign ones alone', async () => {
    const exec = kernel(
      '-A -t 10.96.0.99:80 -s rr\n-a -t 10.96.0.99:80 -r 10.244.9.9:80 -m -w 1\n-A -t 198.51.100.7:443 -s wlc\n-A -t 192.168.1.10:30099 -s rr\n',
      '5: kube-ipvs0    inet 10.96.0.99/32 scope global kube-ipvs0\\       valid_lft forever preferred_lft forever\n',
    );
    const b = new IpvsBackend({ exec });
    await b.apply(plan([], true));
    const ipvsR = exec.calls.find((c) => c.file === 'ipvsadm' && c.args[0] === '-R')!;
    expect(ipvsR.input).toBe('-D -t 10.96.0.99:80\n-D -t 192.168.1.10:30099\n');
    expect(exec.calls.find((c) => c.file === 'ip' && c.args[0] === '-batch')!.input).toBe('addr del 10.96.0.99/32 dev kube-ipvs0\n');
  });

  it('detectDrift is false right after apply and true when a virtual service vanished', async () => {
    const p = plan([[web, [ep('10.244.1.2', 8080)]]], true);
    const exec = emptyKernel();
    const b = new IpvsBackend({ exec });
    await b.apply(p);
    // Feed back exactly what was applied.
    const ipt = exec.callsTo('iptables-restore')[0]!.input!.toString().replace(/^-I (\S+) 1 /gm, '-A $1 ');
    const good = (): FakeNetExec =>
      new FakeNetExec()
        .on({ file: 'ip', match: (r) => r.args[0] === '-o', result: { stdout: '7: kube-ipvs0    inet 10.96.0.10/32 scope global kube-ipvs0\n' } })
        .on({ file: 'ipset', result: { stdout: p.ipsets.map((s) => [`create ${s.name} ${s.type} ${s.createOptions}`, ...s.members.map((m) => `add ${s.name} ${m}`)].join('\n')).join('\n') } })
        .on({ file: 'iptables-save', result: { stdout: ipt } });
    const ok = good().on({ file: 'ipvsadm', result: { stdout: '-A -t 10.96.0.10:80 -s rr\n-a -t 10.96.0.10:80 -r 10.244.1.2:8080 -m -w 1\n' } });
    expect(await new IpvsBackend({ exec: ok }).detectDrift(p)).toBe(false);
    const gone = good().on({ file: 'ipvsadm', result: { stdout: '' } });
    expect(await new IpvsBackend({ exec: gone }).detectDrift(p)).toBe(true);
  });

  const REWRITTEN: { name: string; ipvs: string; repair: string }[] = [
    {
      name: 'real server switched to direct routing',
      ipvs: '-A -t 10.96.0.10:80 -s rr\n-a -t 10.96.0.10:80 -r 10.244.1.2:8080 -g -w 1\n',
      repair: '-e -t 10.96.0.10:80 -r 10.244.1.2:8080 -m -w 1\n',
    },
    { name: 'real server weight', ipvs: '-A -t 10.96.0.10:80 -s rr\n-a -t 10.96.0.10:80 -r 10.244.1.2:8080 -m -w 7\n', repair: '-e -t 10.96.0.10:80 -r 10.244.1.2:8080 -m -w 1\n' },
    { name: 'virtual service one-packet flag', ipvs: '-A -t 10.96.0.10:80 -s rr -o\n-a -t 10.96.0.10:80 -r 10.244.1.2:8080 -m -w 1\n', repair: '-E -t 10.96.0.10:80 -s rr\n' },
    {
      name: 'real server replaced by another pod (same count)',
      ipvs: '-A -t 10.96.0.10:80 -s rr\n-a -t 10.96.0.10:80 -r 10.244.1.99:8080 -m -w 1\n',
      repair: '-a -t 10.96.0.10:80 -r 10.244.1.2:8080 -m -w 1\n-e -t 10.96.0.10:80 -r 10.244.1.99:8080 -m -w 0\n',
    },
  ];
  it.each(REWRITTEN)('a change in place is drift and a full sync repairs it: $name', async ({ ipvs, repair }) => {
    const p = plan([[web, [ep('10.244.1.2', 8080)]]], true);
    const addrs = '7: kube-ipvs0    inet 10.96.0.10/32 scope global kube-ipvs0\n';
    const sets = p.ipsets.map((x) => [`create ${x.name} ${x.type} ${x.createOptions}`, ...x.members.map((m) => `add ${x.name} ${m}`)].join('\n')).join('\n');
    const exec = new FakeNetExec()
      .on({ file: 'ip', match: (r) => r.args[0] === '-o', result: { stdout: addrs } })
      .on({ file: 'ipset', match: (r) => r.args[0] === 'save', result: { stdout: sets } })
      .on({ file: 'ipvsadm', match: (r) => r.args[0] === '-Sn', result: { stdout: ipvs } });
    const b = new IpvsBackend({ exec });
    expect(await b.detectDrift(p)).toBe(true);
    await b.apply(p);
    expect(exec.calls.find((c) => c.file === 'ipvsadm' && c.args[0] === '-R')?.input).toBe(repair);
  });
});
