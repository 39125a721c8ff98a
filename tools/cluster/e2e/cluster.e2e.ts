import { execFileSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { e2eName, listNetns } from '@svcnet/testing';
import { Cluster, PodCommands, bundlePath, defaultRepoRoot, readState, type PodRecord } from '../src/index.js';

// A real 2-node cluster in network namespaces (prefix `clt`): needs root.
const NAME = e2eName('clt');
const STATE_DIR = `/tmp/svcnet-cluster-e2e-${process.pid}`;
const isRoot = process.getuid?.() === 0;
const repoRoot = defaultRepoRoot();
const controlPlaneBuilt = Boolean(bundlePath(repoRoot, 'allocator') && bundlePath(repoRoot, 'state'));
const agentBuilt = Boolean(bundlePath(repoRoot, 'agent'));
const stackBuilt = controlPlaneBuilt && agentBuilt && Boolean(bundlePath(repoRoot, 'svcnetctl'));

/** Retries a command in the cluster until `ok(stdout)` or the deadline (rules take a moment to land). */
async function eventually(cluster: Cluster, target: string, argv: string[], ok: (out: string) => boolean, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await cluster.exec(target, argv, { allowFailure: true, timeoutMs: 5000 });
    if (r.exitCode === 0 && ok(r.stdout)) return r.stdout;
    if (Date.now() > deadline) throw new Error(`${target}: ${argv.join(' ')} → exit ${r.exitCode}: ${r.stdout}${r.stderr}`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

/** What the root namespace looks like: links, addresses, routes. None of it may change. */
function rootNetworkSnapshot(): string {
  const run = (args: string[]): string => execFileSync('ip', args, { encoding: 'utf8' });
  const links = run(['-o', 'link', 'show'])
    .split('\n')
    .map((l) => l.split(':')[1]?.trim().split('@')[0] ?? '')
    .filter(Boolean)
    .sort();
  return [links.join(' '), run(['-o', 'addr', 'show']), run(['route', 'show', 'table', 'all'])].join('\n');
}

async function ourNamespaces(): Promise<string[]> {
  return (await listNetns()).filter((n) => n.startsWith(`${NAME}-`)).sort();
}

describe.skipIf(!isRoot)('svcnet-cluster: 2 nodes in network namespaces (needs root)', () => {
  let cluster: Cluster;
  let rootBefore: string;
  const pods: Record<string, PodRecord> = {};

  beforeAll(async () => {
    rootBefore = rootNetworkSnapshot();
    cluster = await Cluster.up({ name: NAME, nodes: 2, stateDir: STATE_DIR, repoRoot, agents: false });
    pods.a = await cluster.addPod({ name: 'a', node: 1, labels: { app: 'who' }, ports: [{ name: 'who', port: 8080 }], command: PodCommands.tcpWho(8080) });
    pods.b = await cluster.addPod({ name: 'b', node: 2, labels: { app: 'who' }, ports: [{ name: 'who', port: 8080 }], command: PodCommands.tcpWho(8080) });
    pods.c = await cluster.addPod({ name: 'c', node: 1, labels: { app: 'web' }, ports: [{ name: 'http', port: 8081 }], command: PodCommands.httpWho(8081) });
    pods.u = await cluster.addPod({ name: 'u', node: 2, ports: [{ name: 'dns', port: 5353, protocol: 'UDP' }], command: PodCommands.udpWho(5353) });
  });

  afterAll(async () => {
    // Also after a failed test: remove everything by name, state file or not.
    await Cluster.down({ name: NAME, stateDir: STATE_DIR });
    rmSync(STATE_DIR, { recursive: true, force: true });
  });

  it('creates the wire, control-plane, external and node namespaces and records them', async () => {
    expect(await ourNamespaces()).toEqual(
      ['cp', 'ext', 'net', 'node1', 'node2', 'pod-a', 'pod-b', 'pod-c', 'pod-u'].map((n) => `${NAME}-${n}`).sort(),
    );
    const recorded = readState(STATE_DIR);
    expect(recorded?.pods.map((p) => p.name).sort()).toEqual(['a', 'b', 'c', 'u']);
    expect(recorded?.processes.find((p) => p.component === 'nats')?.pid).toBeGreaterThan(0);
  });

  it('gives pods addresses from their node\u2019s pod CIDR', () => {
    expect(pods.a!.ip).toBe('10.244.1.2');
    expect(pods.c!.ip).toBe('10.244.1.3');
    expect(pods.b!.ip).toBe('10.244.2.2');
  });

  it('sets the per-namespace sysctls a node needs', async () => {
    for (const node of ['node1', 'node2']) {
      const r = await cluster.exec(node, ['sysctl', '-n', 'net.ipv4.ip_forward', 'net.bridge.bridge-nf-call-iptables']);
      expect(r.stdout.trim().split('\n'), node).toEqual(['1', '1']);
      const hairpin = await cluster.exec(node, ['ip', '-d', 'link', 'show', 'master', 'cbr0']);
      expect(hairpin.stdout, node).toContain('hairpin on');
    }
  });

  const pings = [
    { name: 'pod on node1 → pod on node2', from: 'a', to: () => pods.b!.ip },
    { name: 'pod on node2 → pod on node1', from: 'b', to: () => pods.a!.ip },
    { name: 'pod → pod on the same node', from: 'a', to: () => pods.c!.ip },
    { name: 'external → node1', from: 'ext', to: () => cluster.nodeIp(1) },
    { name: 'external → node2', from: 'ext', to: () => cluster.nodeIp(2) },
    { name: 'node1 → control plane', from: 'node1', to: () => cluster.state.plan.controlPlane.ip },
  ];
  it.each(pings)('ping: $name', async ({ from, to }) => {
    const r = await cluster.exec(from, ['ping', '-c', '2', '-i', '0.2', '-W', '2', to()], { allowFailure: true });
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/2 received/);
  });

  it('external namespace has no route to pod CIDRs (pods are reached through services only)', async () => {
    const r = await cluster.exec('ext', ['ping', '-c', '1', '-W', '1', pods.a!.ip], { allowFailure: true });
    expect(r.exitCode).not.toBe(0);
  });

  it('a pod\u2019s TCP server answers by pod IP from another node, seeing the client\u2019s pod IP', async () => {
    const r = await cluster.exec('b', ['socat', '-T', '3', '-', `TCP:${pods.a!.ip}:8080`]);
    expect(r.stdout.trim()).toBe(`${pods.b!.ip} a`);
  });

  it('the HTTP server pod answers its name and the client address', async () => {
    const r = await cluster.exec('b', ['curl', '-sS', '--max-time', '5', `http://${pods.c!.ip}:8081/`]);
    expect(r.stdout.trim()).toBe(`c ${pods.b!.ip}`);
  });

  it('the UDP server pod answers a datagram with the client address and its name', async () => {
    const r = await cluster.exec('a', ['socat', '-T', '2', '-', `UDP:${pods.u!.ip}:5353`], { input: 'hi\n' });
    expect(r.stdout.trim()).toBe(`${pods.a!.ip} u`);
  });

  it('the CLI sees the same cluster (status, exec)', async () => {
    const bundle = join(repoRoot, 'tools/cluster/dist/main.cjs');
    if (!existsSync(bundle)) throw new Error(`${bundle} missing: run npx nx run cluster:build`);
    const cli = (args: string[]): string =>
      execFileSync(process.execPath, [bundle, ...args, '--name', NAME, '--state-dir', STATE_DIR], { encoding: 'utf8' });
    const json = JSON.parse(cli(['status', '--json'])) as { pods: { name: string }[]; processes: { component: string; running: boolean }[] };
    expect(json.pods.map((p) => p.name).sort()).toEqual(['a', 'b', 'c', 'u']);
    expect(json.processes.find((p) => p.component === 'pod-a')?.running).toBe(true);
    expect(cli(['status'])).toMatch(/pod default\/a on node1 10\.244\.1\.2 ready=true pod-a\(pid \d+, running\)/);
    const out = execFileSync(process.execPath, [bundle, 'exec', '--name', NAME, '--state-dir', STATE_DIR, 'a', '--', 'ip', '-o', '-4', 'addr', 'show', 'eth0'], {
      encoding: 'utf8',
    });
    expect(out).toContain('10.244.1.2/24');
  });

  it.skipIf(!controlPlaneBuilt)('registers pods with the state service and flips readiness (needs apps/state and apps/allocator built)', async () => {
    const client = cluster.stateClient();
    expect(client, 'state socket bridge').toBeDefined();
    const get = (name: string) =>
      new Promise<{ ip: string; ready: boolean; nodeName: string }>((resolve, reject) =>
        client!.getPod({ namespace: 'default', name }, (err, res) => (err ? reject(err) : resolve(res))),
      );
    expect(await get('a')).toMatchObject({ ip: pods.a!.ip, ready: true, nodeName: 'node1' });
    await cluster.setPodReady('a', false);
    expect((await get('a')).ready).toBe(false);
    await cluster.setPodReady('a', true);
    expect((await get('a')).ready).toBe(true);
  });

  it('pod del kills the pod, deletes its namespace and forgets it', async () => {
    const pid = cluster.state.processes.find((p) => p.component === 'pod-u')!.pid;
    const resolv = `/etc/netns/${pods.u!.ns}/resolv.conf`;
    if (cluster.state.dns) expect(existsSync(resolv), 'pods get a resolv.conf while svcnet-dns runs').toBe(true);
    await cluster.deletePod('u');
    expect(existsSync(resolv), 'the pod\u2019s resolv.conf goes with it').toBe(false);
    expect(await ourNamespaces()).not.toContain(`${NAME}-pod-u`);
    expect(() => process.kill(pid, 0)).toThrow();
    expect(readState(STATE_DIR)?.pods.map((p) => p.name)).not.toContain('u');
  });

  it.skipIf(!agentBuilt)('starts one agent per node that answers /healthz (needs apps/node-agent built)', async () => {
    await cluster.startAgents();
    for (const node of ['node1', 'node2']) {
      const r = await cluster.exec(node, ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '3', 'http://127.0.0.1:10256/healthz'], {
        allowFailure: true,
      });
      expect(['200', '503'], `${node} healthz`).toContain(r.stdout.trim());
    }
  });

  it.skipIf(!stackBuilt)('ctl: a service exposed with svcnetctl answers on its ClusterIP from both nodes and on a NodePort from outside', async () => {
    const exposed = await cluster.ctl(['expose', 'pod', 'a', '--port', '80', '--target-port', '8080', '--name', 'who', '--type', 'NodePort']);
    expect(exposed.stdout).toContain('service/who');
    const svc = JSON.parse((await cluster.ctl(['get', 'service', 'who', '-o', 'json'])).stdout) as {
      spec: { clusterIP: string; ports: { nodePort: number }[] };
    };
    expect(svc.spec.clusterIP).toMatch(/^10\.96\./);
    const viaClusterIp = ['socat', '-T', '2', '-', `TCP:${svc.spec.clusterIP}:80`];
    expect(await eventually(cluster, 'c', viaClusterIp, (o) => o.includes(' a'))).toBe(`${pods.c!.ip} a\n`);
    expect(await eventually(cluster, 'b', viaClusterIp, (o) => o.includes(' a'))).toBe(`${pods.b!.ip} a\n`);
    const viaNodePort = ['socat', '-T', '2', '-', `TCP:${cluster.nodeIp(2)}:${svc.spec.ports[0]!.nodePort}`];
    // From outside through node2 to a pod on node1: the source is masqueraded to node2's address.
    expect(await eventually(cluster, 'ext', viaNodePort, (o) => o.includes(' a'))).toBe(`${cluster.nodeIp(2)} a\n`);
    // By name, through kube-dns (itself a service the agents program) and the pod's search list.
    const byName = await eventually(cluster, 'b', ['getent', 'hosts', 'who'], (o) => o.length > 0);
    expect(byName.trim().split(/\s+/)).toEqual([svc.spec.clusterIP, 'who.default.svc.cluster.local']);
  });

  it('never changed the root namespace\u2019s links, addresses or routes', () => {
    expect(rootNetworkSnapshot()).toBe(rootBefore);
  });

  it('down kills every process and removes every namespace; a second down is a no-op', async () => {
    const pids = cluster.state.processes.map((p) => p.pid);
    expect(pids.length).toBeGreaterThan(0);
    await cluster.down();
    expect(await ourNamespaces()).toEqual([]);
    for (const pid of pids) expect(() => process.kill(pid, 0), `pid ${pid}`).toThrow();
    await Cluster.down({ name: NAME, stateDir: STATE_DIR });
    expect(await ourNamespaces()).toEqual([]);
  });

  it('down after a crash (state file lost) still finds the namespaces and their processes by prefix', async () => {
    const crashed = await Cluster.up({ name: NAME, nodes: 1, stateDir: STATE_DIR, repoRoot, agents: false, controlPlane: controlPlaneBuilt });
    const z = await crashed.addPod({ name: 'z', node: 1, command: ['sleep', '300'] });
    const resolv = `/etc/netns/${z.ns}/resolv.conf`;
    if (crashed.state.dns) expect(existsSync(resolv)).toBe(true);
    const pids = crashed.state.processes.map((p) => p.pid);
    writeFileSync(join(STATE_DIR, 'cluster.json'), '{ corrupt');
    await Cluster.down({ name: NAME, stateDir: STATE_DIR });
    expect(await ourNamespaces()).toEqual([]);
    for (const pid of pids) expect(() => process.kill(pid, 0), `pid ${pid}`).toThrow();
    expect(existsSync(join(STATE_DIR, 'cluster.json')), 'corrupt state file removed').toBe(false);
    expect(existsSync(resolv), 'pods\u2019 resolv.conf removed by prefix').toBe(false);
  });
});
