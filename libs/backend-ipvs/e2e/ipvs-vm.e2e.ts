/**
 * IPVS mode against a real IPVS kernel: a qemu VM (tools/ipvs-vm) whose
 * command channel backs a NetExec, so the production IpvsBackend drives the
 * VM's kernel. Real HTTP requests go from a client namespace through IPVS to
 * pod namespaces. The cases mirror the shared per-mode data-plane table.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Proxier, type ProxyState, type ServicePortInfo, type EndpointInfo } from '@svcnet/proxy-core';
import { ChurnModel, buildEndpoints, buildService, seededRandom } from '@svcnet/proxy-core/testing';
import { Registry } from 'prom-client';
import { startIpvsVm, type IpvsVmHandle } from '@svcnet/testing';
import { IpvsBackend, IpvsScheduler, type IpvsPlan } from '../src/index.js';
import { CLIENT_NS, NODE_IP, endpoint, nodeConfig, pods, request, servicePort, setUpLab, tally } from './vm-lab.js';

/** What `request` returns for a dropped connection: nothing back within nc's 3 s. */
const DROPPED = expect.stringMatching(/^ERR:(empty|.*timed out)$/);

const [podA, podB, podC] = pods as [(typeof pods)[0], (typeof pods)[0], (typeof pods)[0]];

let vm: IpvsVmHandle;
const clock = { t: 1_000_000, now() { return this.t; } };
let backend: IpvsBackend;
let lastApplied: IpvsPlan | undefined;
const services = new Map<string, ServicePortInfo>();
const endpoints = new Map<string, EndpointInfo[]>();

function state(): ProxyState {
  return { services: new Map(services), endpoints: new Map(endpoints) };
}

/** Service ports put or deleted since the last sync: the proxier's `changed`. */
const changed = new Set<string>();

async function sync(full = false, b: IpvsBackend = backend): Promise<{ calls: number }> {
  const plan = b.render({ state: state(), config: nodeConfig, full, changed: new Set(changed), lastApplied: b === backend ? lastApplied : undefined });
  const r = await b.apply(plan);
  lastApplied = plan;
  changed.clear();
  return r;
}

function put(svc: ServicePortInfo, eps: EndpointInfo[]): void {
  changed.add(svc.id);
  services.set(svc.id, svc);
  if (eps.length > 0) endpoints.set(svc.id, eps);
  else endpoints.delete(svc.id);
}

async function sh(script: string): Promise<string> {
  return (await vm.exec.run({ file: 'sh', args: ['-s'], input: script + '\n', allowFailure: true, timeoutMs: 180_000 })).stdout;
}

const web = servicePort({ name: 'web', clusterIP: '10.96.0.10', port: 80, nodePort: 30080 });
const sticky = servicePort({ name: 'sticky', clusterIP: '10.96.0.11', port: 80, sessionAffinity: { kind: 'ClientIP', timeoutSeconds: 60 } });
const empty = servicePort({ name: 'empty', clusterIP: '10.96.0.12', port: 80 });
const dns = servicePort({ name: 'dns', clusterIP: '10.96.0.53', port: 53, protocol: 'UDP' });

// Generous per-test timeouts: everything runs under qemu's software emulation.
describe('IPVS mode in a VM with a real IPVS kernel', { timeout: 240_000 }, () => {
  beforeAll(async () => {
    vm = await startIpvsVm();
    await setUpLab(vm.exec);
    backend = new IpvsBackend({ exec: vm.exec, scheduler: 'rr', clock, gracefulTerminationTimeoutMs: 30_000, config: nodeConfig });
    // Short FIN timeout so closed connections leave the IPVS table quickly.
    await vm.exec.run({ file: 'ipvsadm', args: ['--set', '900', '2', '300'] });
  }, 600_000);

  afterAll(async () => {
    await vm?.stop();
  });

  it('ClusterIP: round-robin across pods, address on kube-ipvs0, masquerading real servers', async () => {
    put(web, [endpoint(podA.ip), endpoint(podB.ip)]);
    await sync(true);
    expect(await sh('ip -o addr show dev kube-ipvs0')).toContain('10.96.0.10/32');
    const save = await sh('ipvsadm -Sn');
    expect(save).toContain('-A -t 10.96.0.10:80 -s rr');
    expect(save).toContain(`-a -t 10.96.0.10:80 -r ${podA.ip}:8080 -m -w 1`);
    expect(tally(await request(vm.exec, '10.96.0.10', 80, 6))).toEqual({ 'pod-a': 3, 'pod-b': 3 });
    // From the node itself too (OUTPUT path).
    expect(tally(await request(vm.exec, '10.96.0.10', 80, 2, undefined))).toEqual({ 'pod-a': 1, 'pod-b': 1 });
  });

  it('NodePort: node address:nodePort balances across pods', async () => {
    expect(await sh('ipvsadm -Sn')).toContain(`-A -t ${NODE_IP}:30080 -s rr`);
    expect(tally(await request(vm.exec, NODE_IP, 30080, 4))).toEqual({ 'pod-a': 2, 'pod-b': 2 });
    expect(await sh('ipset list KUBE-NODE-PORT-TCP')).toMatch(/^30080$/m);
  });

  it('ClientIP affinity: persistence pins one client to one pod', async () => {
    put(sticky, [endpoint(podA.ip), endpoint(podB.ip), endpoint(podC.ip)]);
    await sync();
    expect(await sh('ipvsadm -Sn')).toContain('-A -t 10.96.0.11:80 -s rr -p 60');
    const answers = await request(vm.exec, '10.96.0.11', 80, 5);
    expect(Object.keys(tally(answers))).toHaveLength(1);
    expect(answers[0]).toMatch(/^pod-/);
  });

  it('no endpoints: the connection is refused at once', async () => {
    put(empty, []);
    await sync();
    // "refused" needs an active reject (ICMP/RST); a dropped SYN would end in nc's 3 s timeout instead.
    const [answer] = await request(vm.exec, '10.96.0.12', 80, 1);
    expect(answer).toMatch(/refused/i);
    expect(await sh('ipset list KUBE-NO-ENDPOINTS')).toContain('10.96.0.12,tcp:80');
  });

  it('endpoint removal: weight 0 while a connection drains, deleted after the bound; new requests avoid it', async () => {
    // Hold one connection open to the ClusterIP (httpd waits for the request line).
    // busybox sh would run its own `ip` applet (no netns support): use iproute2's.
    await sh(`/usr/sbin/ip netns exec ${CLIENT_NS} sh -c '(sleep 60) | nc 10.96.0.10 80 >/dev/null 2>&1 &'`);
    let conns = '';
    let busy: typeof podA | undefined;
    for (let i = 0; i < 40 && !busy; i++) {
      await new Promise((r) => setTimeout(r, 250));
      conns = await sh('ipvsadm -Ln -t 10.96.0.10:80');
      busy = [podA, podB].find((p) => new RegExp(`${p.ip.replace(/\./g, '\\.')}:8080\\s+Masq\\s+1\\s+[1-9]`).test(conns));
    }
    expect(busy, conns).toBeDefined();
    const other = busy === podA ? podB : podA;
    // pod-c joins without traffic, so when it is removed too it has no connections at all.
    put(web, [endpoint(podA.ip), endpoint(podB.ip), endpoint(podC.ip)]);
    await sync();
    put(web, [endpoint(other.ip)]);
    await sync();
    const save = await sh('ipvsadm -Sn');
    expect(save).toContain(`-a -t 10.96.0.10:80 -r ${busy!.ip}:8080 -m -w 0`);
    expect(save).toContain(`-a -t 10.96.0.10:80 -r ${podC.ip}:8080 -m -w 0`);
    expect(save).toContain(`-a -t ${NODE_IP}:30080 -r ${busy!.ip}:8080 -m -w 0`);
    expect(backend.pendingDrains).toBe(4);
    expect(tally(await request(vm.exec, '10.96.0.10', 80, 3))).toEqual({ [other.name]: 3 });
    // Next sync: pod-c had no connection (deleted); the busy one stays until the bound.
    await sync();
    const after = await sh('ipvsadm -Sn');
    expect(after).toContain(`-a -t 10.96.0.10:80 -r ${busy!.ip}:8080 -m -w 0`);
    expect(after).not.toContain(`-a -t 10.96.0.10:80 -r ${podC.ip}:8080`);
    expect(after).not.toContain(`-a -t ${NODE_IP}:30080 -r ${podC.ip}:8080`);
    // The busy pod's NodePort real server may still hold TIME_WAIT entries from earlier requests.
    expect(backend.pendingDrains).toBeGreaterThanOrEqual(1);
    expect(backend.pendingDrains).toBeLessThanOrEqual(2);
    clock.t += 31_000;
    await sync();
    const gone = await sh('ipvsadm -Sn');
    expect(gone).not.toContain(`-a -t 10.96.0.10:80 -r ${busy!.ip}:8080`);
    expect(gone).not.toContain(`-a -t ${NODE_IP}:30080 -r ${busy!.ip}:8080`);
    expect(backend.pendingDrains).toBe(0);
    await sh(`kill $(pidof sleep) 2>/dev/null; true`);
  });

  it('UDP endpoint removal: the real server goes at once', async () => {
    put(dns, [endpoint(podA.ip, 5353), endpoint(podB.ip, 5353)]);
    await sync();
    expect(await sh('ipvsadm -Sn')).toContain(`-a -u 10.96.0.53:53 -r ${podB.ip}:5353 -m -w 1`);
    put(dns, [endpoint(podA.ip, 5353)]);
    await sync();
    const save = await sh('ipvsadm -Sn');
    expect(save).toContain(`-a -u 10.96.0.53:53 -r ${podA.ip}:5353`);
    expect(save).not.toContain(`${podB.ip}:5353`);
  });

  it('UDP: a live flow pinned to an endpoint that goes away moves to the other one within 1 s', async () => {
    // Each pod answers every datagram with its name, and keeps answering after it leaves the service.
    await sh([podA, podB].map((p) => `/usr/sbin/ip netns exec ${p.ns} socat UDP4-RECVFROM:5353,fork SYSTEM:'echo ${p.name}' >/dev/null 2>&1 &`).join('\n'));
    put(dns, [endpoint(podA.ip, 5353), endpoint(podB.ip, 5353)]);
    await sync();
    // One 5-tuple (source port 40053): a datagram every 100 ms for 15 s, the answers appended to a file.
    await sh(
      `/usr/sbin/ip netns exec ${CLIENT_NS} sh -c '(i=0; while [ $i -lt 150 ]; do echo ping; usleep 100000; i=$((i+1)); done) | socat - UDP4:10.96.0.53:53,sourceport=40053 > /tmp/udpflow 2>&1 &'`,
    );
    const answers = async () => (await sh('cat /tmp/udpflow')).split('\n').filter(Boolean);
    let before: string[] = [];
    for (let i = 0; i < 40 && before.length < 5; i++) {
      await new Promise((r) => setTimeout(r, 250));
      before = await answers();
    }
    // One flow stays on one endpoint.
    expect(new Set(before).size, before.join(',')).toBe(1);
    const pinned = before[0]!;
    expect([podA.name, podB.name]).toContain(pinned);
    const other = pinned === podA.name ? podB : podA;
    put(dns, [endpoint(other.ip, 5353)]);
    await sync();
    await new Promise((r) => setTimeout(r, 1000));
    const mark = (await answers()).length;
    await new Promise((r) => setTimeout(r, 2000));
    const after = (await answers()).slice(mark);
    expect(after.length).toBeGreaterThan(5);
    expect(new Set(after), after.join(',')).toEqual(new Set([other.name]));
    await sh('kill $(pidof socat) 2>/dev/null; true');
  });

  it('traffic policies: iTP Local only for the cluster IP, eTP Local for external IPs and node ports; a policy without a local endpoint drops', async () => {
    const remote = (p: (typeof pods)[0]) => endpoint(p.ip, 8080, { nodeName: 'other', isLocal: false });
    const itp = servicePort({ name: 'itp', clusterIP: '10.96.0.40', port: 80, nodePort: 30040, externalIPs: ['192.0.2.40'], internalPolicyLocal: true });
    const itpNone = servicePort({ name: 'itp-none', clusterIP: '10.96.0.41', port: 80, internalPolicyLocal: true });
    const etp = servicePort({ name: 'etp', clusterIP: '10.96.0.42', port: 80, nodePort: 30042, externalIPs: ['192.0.2.42'], externalPolicyLocal: true });
    const etpNone = servicePort({ name: 'etp-none', clusterIP: '10.96.0.43', port: 80, nodePort: 30043, externalPolicyLocal: true });
    put(itp, [endpoint(podA.ip), remote(podB)]);
    put(itpNone, [remote(podB)]);
    put(etp, [endpoint(podA.ip), remote(podB)]);
    put(etpNone, [remote(podB)]);
    await sync();
    expect(tally(await request(vm.exec, '10.96.0.40', 80, 3))).toEqual({ 'pod-a': 3 });
    expect(tally(await request(vm.exec, NODE_IP, 30040, 4))).toEqual({ 'pod-a': 2, 'pod-b': 2 });
    expect(tally(await request(vm.exec, '192.0.2.40', 80, 4))).toEqual({ 'pod-a': 2, 'pod-b': 2 });
    expect(tally(await request(vm.exec, NODE_IP, 30042, 3))).toEqual({ 'pod-a': 3 });
    expect(tally(await request(vm.exec, '192.0.2.42', 80, 3))).toEqual({ 'pod-a': 3 });
    expect(tally(await request(vm.exec, '10.96.0.42', 80, 4))).toEqual({ 'pod-a': 2, 'pod-b': 2 });
    // Dropped: nc waits its 3 s and gets nothing (busybox nc says "timed out" when the SYN goes
    // unanswered) — not "refused" as for a service without endpoints.
    expect(await request(vm.exec, '10.96.0.41', 80, 1)).toEqual([DROPPED]);
    expect(await request(vm.exec, NODE_IP, 30043, 1)).toEqual([DROPPED]);
    const sets = await sh('ipset save');
    expect(sets).toContain('add KUBE-EXTERNAL-IP-LOCAL 192.0.2.42,tcp:80');
    expect(sets).toContain('add KUBE-NO-LOCAL-ENDPOINTS 10.96.0.41,tcp:80');
    for (const s of [itp, itpNone, etp, etpNone]) {
      services.delete(s.id);
      endpoints.delete(s.id);
      changed.add(s.id);
    }
    await sync();
  });

  it('terminating endpoints: ready ones first, then serving-terminating ones, then refused', async () => {
    const term = servicePort({ name: 'term', clusterIP: '10.96.0.44', port: 80 });
    const servingTerminating = { ready: false, serving: true, terminating: true };
    const gone = { ready: false, serving: false, terminating: true };
    put(term, [endpoint(podA.ip), endpoint(podB.ip, 8080, servingTerminating)]);
    await sync();
    expect(tally(await request(vm.exec, '10.96.0.44', 80, 3))).toEqual({ 'pod-a': 3 });
    put(term, [endpoint(podA.ip, 8080, gone), endpoint(podB.ip, 8080, servingTerminating)]);
    await sync();
    expect(tally(await request(vm.exec, '10.96.0.44', 80, 3))).toEqual({ 'pod-b': 3 });
    put(term, [endpoint(podA.ip, 8080, gone), endpoint(podB.ip, 8080, gone)]);
    await sync();
    const [answer] = await request(vm.exec, '10.96.0.44', 80, 1);
    expect(answer).toMatch(/refused/i);
    services.delete(term.id);
    endpoints.delete(term.id);
    changed.add(term.id);
    await sync();
  });

  it('load-balancer IP: bound and served, loadBalancerSourceRanges drop other sources, the health check port is in its set; the rules read back as written', async () => {
    const lb = servicePort({ name: 'lb', clusterIP: '10.96.0.50', port: 80, loadBalancerIPs: ['192.0.2.50'], loadBalancerSourceRanges: ['10.0.2.0/24'], healthCheckNodePort: 32050, externalPolicyLocal: true });
    put(lb, [endpoint(podA.ip)]);
    await sync();
    expect(await sh('ip -o addr show dev kube-ipvs0')).toContain('192.0.2.50/32');
    expect(tally(await request(vm.exec, '192.0.2.50', 80, 2))).toEqual({ 'pod-a': 2 });
    const sets = await sh('ipset save');
    expect(sets).toContain('add KUBE-LOAD-BALANCER-LOCAL 192.0.2.50,tcp:80');
    expect(sets).toMatch(/add KUBE-HEALTH-CHECK-NODE-PORT 32050/);
    // iptables-save prints our new rules exactly as the backend wrote them: no drift right after a sync.
    expect(await backend.detectDrift(lastApplied!)).toBe(false);
    put({ ...lb, loadBalancerSourceRanges: ['198.51.100.0/24'] }, [endpoint(podA.ip)]);
    await sync();
    expect(await request(vm.exec, '192.0.2.50', 80, 1)).toEqual([DROPPED]);
    services.delete(lb.id);
    endpoints.delete(lb.id);
    changed.add(lb.id);
    await sync();
    expect(await sh('ip -o addr show dev kube-ipvs0')).not.toContain('192.0.2.50/32');
  });

  it('service deletion removes its virtual service, its address and its ipset entries', async () => {
    services.delete(empty.id);
    changed.add(empty.id);
    await sync();
    expect(await sh('ipvsadm -Sn')).not.toContain('10.96.0.12:80');
    expect(await sh('ip -o addr show dev kube-ipvs0')).not.toContain('10.96.0.12/32');
    expect(await sh('ipset save')).not.toContain('10.96.0.12');
    expect(await request(vm.exec, '10.96.0.12', 80, 1)).toEqual([expect.stringMatching(/^ERR/)]);
  });

  it('restart: a fresh backend syncing the same state changes nothing and removes what went stale meanwhile', async () => {
    put(web, [endpoint(podA.ip), endpoint(podB.ip)]);
    await sync();
    const before = await backend.readKernelState();
    const fresh = new IpvsBackend({ exec: vm.exec, clock, config: nodeConfig });
    const plan = fresh.render({ state: state(), config: nodeConfig, full: true, changed: new Set(), lastApplied: undefined });
    const r = await fresh.apply(plan);
    expect(r.calls).toBe(5); // sysctl + 4 reads, no writes
    expect(await fresh.readKernelState()).toBe(before);
    // A service deleted while the agent was down: the next start removes it.
    services.delete(sticky.id);
    changed.add(sticky.id);
    const again = new IpvsBackend({ exec: vm.exec, clock, config: nodeConfig });
    await again.apply(again.render({ state: state(), config: nodeConfig, full: true, changed: new Set(), lastApplied: undefined }));
    expect(await sh('ipvsadm -Sn')).not.toContain('10.96.0.11');
    expect(await sh('ip -o addr show dev kube-ipvs0')).not.toContain('10.96.0.11/32');
    expect(await sh('ipset save')).not.toContain('10.96.0.11');
    backend = again;
    lastApplied = undefined;
    await sync(true);
  });

  it('drift: a virtual service, an address, an ipset entry and a chain changed by hand are detected and repaired', async () => {
    expect(await backend.detectDrift(lastApplied!)).toBe(false);
    await sh('ipvsadm -D -t 10.96.0.10:80; ip addr del 10.96.0.10/32 dev kube-ipvs0; ipset del KUBE-CLUSTER-IP 10.96.0.10,tcp:80; iptables -t nat -F KUBE-POSTROUTING');
    expect(await backend.detectDrift(lastApplied!)).toBe(true);
    await sync(true);
    expect(await backend.detectDrift(lastApplied!)).toBe(false);
    expect(tally(await request(vm.exec, '10.96.0.10', 80, 2))).toEqual({ 'pod-a': 1, 'pod-b': 1 });
  });

  it('drift in place (same counts): forwarding method, weight and a swapped set member are repaired by the Proxier within 2x the sync period', async () => {
    const ns = 'drift-in-place';
    const syncPeriodMs = 10_000;
    await sh(`/usr/sbin/ip netns add ${ns}`);
    const b = new IpvsBackend({ exec: vm.exec, netns: ns, scheduler: 'rr', clock, config: nodeConfig });
    const proxier = new Proxier({ backend: b, config: nodeConfig, minSyncPeriodMs: 10, syncPeriodMs, metrics: new Registry() });
    try {
      proxier.onServiceUpsert(buildService({ name: 'inplace', clusterIP: '10.96.0.77', ports: [{ port: 8080 }] }));
      proxier.onEndpointsUpsert(buildEndpoints({ name: 'inplace', addresses: [`${podA.ip}@vm`, `${podB.ip}@vm`], ports: [{ port: 8080 }] }));
      proxier.start();
      proxier.onSynced();
      await proxier.syncNow();
      expect(proxier.status().lastError).toBeUndefined();
      const inNs = (cmd: string) => sh(`/usr/sbin/ip netns exec ${ns} sh -c '${cmd}'`);
      // Service port = target port: direct routing and tunnels cannot change the port, so ipvsadm takes the service's.
      const real = `-a -t 10.96.0.77:8080 -r ${podA.ip}:8080 -m -w 1`;
      const cases: { name: string; edit: string; repaired: () => Promise<boolean> }[] = [
        { name: 'direct routing instead of masquerade', edit: `ipvsadm -e -t 10.96.0.77:8080 -r ${podA.ip}:8080 -g -w 1`, repaired: async () => (await inNs('ipvsadm -Sn')).includes(real) },
        { name: 'another weight', edit: `ipvsadm -e -t 10.96.0.77:8080 -r ${podA.ip}:8080 -m -w 9`, repaired: async () => (await inNs('ipvsadm -Sn')).includes(real) },
        {
          name: 'a set member swapped for another (same count)',
          edit: 'ipset del KUBE-CLUSTER-IP 10.96.0.77,tcp:8080; ipset add KUBE-CLUSTER-IP 10.96.0.78,tcp:8080',
          repaired: async () => / 10\.96\.0\.77,tcp:8080$/m.test(await inNs('ipset save KUBE-CLUSTER-IP')),
        },
      ];
      for (const c of cases) {
        expect(await c.repaired(), c.name).toBe(true);
        const said = await inNs(`${c.edit} 2>&1; ipvsadm -Sn 2>&1`);
        expect(await c.repaired(), `${c.name}: the edit took (${said})`).toBe(false);
        const started = performance.now();
        while (!(await c.repaired())) {
          expect(performance.now() - started, `${c.name}: not repaired within 2x the sync period`).toBeLessThan(2 * syncPeriodMs);
          await new Promise((r) => setTimeout(r, 250));
        }
      }
      expect(proxier.status().lastError).toBeUndefined();
    } finally {
      await proxier.stop();
      await sh(`/usr/sbin/ip netns del ${ns}`);
    }
  });

  it('schedulers: the backend programs its --ipvs-scheduler, and the kernel accepts every one we validate', async () => {
    for (const scheduler of ['lc', 'mh', 'rr']) {
      const b = new IpvsBackend({ exec: vm.exec, scheduler, clock, config: nodeConfig });
      await b.apply(b.render({ state: state(), config: nodeConfig, full: true, changed: new Set(), lastApplied: undefined }));
      expect(await sh('ipvsadm -Sn')).toContain(`-A -t 10.96.0.10:80 -s ${scheduler}`);
    }
    const all = Object.keys(IpvsScheduler);
    const probe = all.map((s, i) => `-A -t 192.0.2.${i + 1}:80 -s ${s}`).join('\n');
    await vm.exec.run({ file: 'ipvsadm', args: ['-R'], input: probe + '\n' });
    const save = await sh('ipvsadm -Sn');
    for (const [i, s] of all.entries()) expect(save).toContain(`-A -t 192.0.2.${i + 1}:80 -s ${s}`);
    await vm.exec.run({ file: 'ipvsadm', args: ['-R'], input: all.map((_, i) => `-D -t 192.0.2.${i + 1}:80`).join('\n') + '\n' });
    expect(tally(await request(vm.exec, '10.96.0.10', 80, 2))).toEqual({ 'pod-a': 1, 'pod-b': 1 });
  });

  it('--ipvs-strict-arp: the node stops answering ARP for addresses that are not on the asking interface', async () => {
    await sh('/usr/sbin/ip netns add arp-ns');
    try {
      const read = async () => (await sh('/usr/sbin/ip netns exec arp-ns sysctl -n net.ipv4.conf.all.arp_ignore net.ipv4.conf.all.arp_announce')).trim().split(/\s+/);
      expect(await read()).toEqual(['0', '0']);
      const b = new IpvsBackend({ exec: vm.exec, netns: 'arp-ns', strictArp: true, config: nodeConfig });
      await b.apply(b.render({ state: state(), config: nodeConfig, full: true, changed: new Set(), lastApplied: undefined }));
      expect(await read()).toEqual(['1', '2']);
    } finally {
      await sh('/usr/sbin/ip netns del arp-ns');
    }
  });

  it('under churn, partial syncs leave the kernel with what a full sync writes, step after step', async () => {
    const seed = Number(process.env.SVCNET_CHURN_SEED ?? 20261127);
    const model = new ChurnModel(seededRandom(seed), { nodeName: 'vm', maxServices: 12 });
    await sh('/usr/sbin/ip netns add churn-a; /usr/sbin/ip netns add churn-b');
    try {
      const b = new IpvsBackend({ exec: vm.exec, netns: 'churn-a', scheduler: 'rr', clock, config: nodeConfig });
      let last: IpvsPlan | undefined;
      for (let step = 0; step < 15; step++) {
        const changed = model.step();
        const state = model.state();
        const plan = b.render({ state, config: nodeConfig, full: !last, changed, lastApplied: last });
        await b.apply(plan);
        last = plan;
        const f = new IpvsBackend({ exec: vm.exec, netns: 'churn-b', scheduler: 'rr', clock, config: nodeConfig });
        await f.cleanup();
        await f.apply(f.render({ state, config: nodeConfig, full: true, changed: new Set(), lastApplied: undefined }));
        // TCP real servers removed this step drain at weight 0 until a later sync sees no connections.
        const got = (await b.readKernelState()).split('\n');
        const draining = got.filter((l) => / -w 0$/.test(l));
        expect(draining.length).toBe(b.pendingDrains);
        const why = `seed ${seed}, step ${step}, changed ${[...changed].join(' ')}`;
        expect(got.filter((l) => !/ -w 0$/.test(l)), why).toEqual((await f.readKernelState()).split('\n'));
      }
    } finally {
      await sh('/usr/sbin/ip netns del churn-a; /usr/sbin/ip netns del churn-b');
    }
  });

  it('cleanup removes kube-ipvs0, our virtual services, ipsets and chains, and nothing else', async () => {
    await sh('ipvsadm -A -t 192.0.2.1:9999 -s rr; iptables -t nat -N OTHER-CHAIN; ipset create OTHER-SET hash:ip');
    await backend.cleanup();
    expect(await sh('ip link show kube-ipvs0 2>&1')).toMatch(/not exist|can't find/);
    const save = await sh('ipvsadm -Sn');
    expect(save.trim()).toBe('-A -t 192.0.2.1:9999 -s rr');
    expect(await sh('ipset list -n')).toBe('OTHER-SET\n');
    const ipt = await sh('iptables-save');
    expect(ipt).not.toMatch(/KUBE-/);
    expect(ipt).toContain(':OTHER-CHAIN');
  });
});
