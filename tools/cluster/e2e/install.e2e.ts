/**
 * docs/install.md, followed by a test: the packed packages installed into a
 * fresh prefix, the control plane and two agents started from the installed
 * bins with deploy/'s units (their ExecStart, EnvironmentFile, User and
 * capabilities, through setpriv) and example configs, with TLS and NATS
 * credentials; then a ClusterIP and a NodePort reached, and the refusals.
 * Hosts are network namespaces of a `svcnet-cluster` network (no control
 * plane of its own); each host gets its own /etc under the test's root.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { e2eName } from '@svcnet/testing';
import { Cluster, PodCommands, bundlePath, defaultRepoRoot } from '../src/index.js';
import { expandExecStart, parseEnvironmentFile, parseServiceUnit, rewrite, setprivPrefix } from './install-kit.js';

const NAME = e2eName('ins');
const isRoot = process.getuid?.() === 0;
const repoRoot = defaultRepoRoot();
const deploy = join(repoRoot, 'deploy');
const built = ['allocator', 'state', 'agent', 'dns', 'svcnetctl'].every((a) => bundlePath(repoRoot, a as Parameters<typeof bundlePath>[1]));
/** The unprivileged `svcnet` user of the units; `nobody` here (the test adds no users to the host). */
const SVCNET_UID = 65534;
const requireHere = createRequire(import.meta.url);

/** The example files' addresses (documentation ranges) and names, as docs/install.md uses them. */
const Example = { controlPlaneIp: '192.0.2.10', nodeIp: '192.0.2.21', nodeName: 'node-1' } as const;

describe.skipIf(!isRoot || !built)('install from the packed packages with deploy/ units and configs (needs root and a build)', () => {
  let cluster: Cluster;
  const root = mkdtempSync(join(tmpdir(), 'svcnet-install-'));
  const prefix = join(root, 'usr/local');
  const bin = (name: string): string => join(prefix, 'bin', name);
  const hostRoot = (host: string): string => join(root, 'hosts', host);
  let cpIp = '';
  let ctlConfig = '';
  let caFile = '';

  /** Rewrites an example file for one host: its /etc, /var/lib and the installed prefix, plus host values. */
  const render = (text: string, host: string, values: Record<string, string> = {}): string =>
    rewrite(text, {
      '/etc/': `${hostRoot(host)}/etc/`,
      '/var/lib/': `${hostRoot(host)}/var/lib/`,
      '/usr/local/bin/': `${prefix}/bin/`,
      [Example.controlPlaneIp]: cpIp,
      ...values,
    });
  const installFile = (from: string, host: string, to: string, values?: Record<string, string>): string => {
    const path = join(hostRoot(host), to);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, render(readFileSync(join(deploy, from), 'utf8'), host, values));
    return path;
  };

  /** Starts a program as its unit would: clean environment, the unit's EnvironmentFile, user and capabilities. */
  const startUnit = (unitFile: string, ns: string, component: string): void => {
    const unit = parseServiceUnit(readFileSync(unitFile, 'utf8'));
    const env: Record<string, string> = {};
    for (const f of unit.environmentFiles) {
      if (existsSync(f.path)) Object.assign(env, parseEnvironmentFile(readFileSync(f.path, 'utf8')));
      else if (!f.optional) throw new Error(`${unitFile}: EnvironmentFile ${f.path} is missing`);
    }
    const argv = [
      'env',
      '-i',
      // systemd's PATH for services (node is found in /usr/bin or /usr/local/bin on a host).
      `PATH=${prefix}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:${dirname(process.execPath)}`,
      ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
      ...setprivPrefix(unit, { svcnet: SVCNET_UID }),
      ...expandExecStart(unit.execStart, env),
    ];
    cluster.startProcess(component, ns, argv);
  };

  const ctl = (target: string, args: string[], opts: { allowFailure?: boolean; input?: string } = {}) =>
    cluster.exec(target, [bin('svcnetctl'), '--svcnetconfig', ctlConfig, ...args], { timeoutMs: 30_000, ...opts });

  /** Retries until the command succeeds and `ok` holds (rules take a moment to reach every node). */
  async function eventually(target: string, argv: string[], ok: (out: string) => boolean, timeoutMs = 30_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await cluster.exec(target, argv, { allowFailure: true, timeoutMs: 5000 });
      if (r.exitCode === 0 && ok(r.stdout)) return r.stdout;
      if (Date.now() > deadline) throw new Error(`${target}: ${argv.join(' ')} → exit ${r.exitCode}: ${r.stdout}${r.stderr}`);
      await new Promise((res) => setTimeout(res, 250));
    }
  }

  beforeAll(async () => {
    chmodSync(root, 0o755);
    // Step 2: the packages, installed as an operator would (npm install -g --prefix /usr/local …).
    const packages = join(root, 'packages');
    execFileSync(process.execPath, [join(repoRoot, 'tools/build/pack.mjs'), packages], { stdio: 'pipe' });
    const tarballs = readdirSync(packages).filter((f) => f.endsWith('.tgz') && !f.includes('client'));
    expect(tarballs).toHaveLength(5);
    execFileSync('npm', ['install', '-g', '--prefix', prefix, '--offline', '--no-audit', '--no-fund', '--loglevel=error', ...tarballs.map((t) => join(packages, t))], {
      stdio: 'pipe',
      env: { ...process.env, npm_config_cache: join(root, 'npm-cache') },
    });

    // The hosts: a network of namespaces only (control plane and agents come from the installed bins).
    cluster = await Cluster.up({ name: NAME, nodes: 2, stateDir: join(root, 'cluster'), repoRoot, natsServers: 0, dns: false, agents: false });
    cpIp = cluster.state.plan.controlPlane.ip;
    const cpNs = cluster.state.plan.controlPlane.ns;

    // Step 3: certificates, made on the operator's machine (servers reachable at the control plane's
    // address); the control-plane host gets its servers' files, the nodes the CA certificate only.
    const workstation = join(root, 'workstation/svcnet-pki');
    execFileSync(bin('svcnetctl'), ['certs', 'init', '--dir', workstation, '--server-hosts', cpIp, '--state-server', `${cpIp}:9402`], { stdio: 'pipe' });
    ctlConfig = join(workstation, 'config');
    caFile = join(workstation, 'ca.crt');
    const pki = join(hostRoot('cp'), 'etc/svcnet/pki');
    mkdirSync(pki, { recursive: true });
    for (const name of ['ca', 'state', 'allocator', 'state-allocator-client', 'nats']) {
      for (const ext of name === 'ca' ? ['crt'] : ['crt', 'key']) cpSync(join(workstation, `${name}.${ext}`), join(pki, `${name}.${ext}`));
    }

    // Step 4: NATS credentials, made away from the hosts; each host gets only its own.
    const keys = join(root, 'keys');
    const nodes = cluster.state.plan.nodes;
    execFileSync(bin('svcnetctl'), ['nats', 'init', '--dir', keys, '--nodes', nodes.map((n) => n.name).join(',')], { stdio: 'pipe' });
    const cpNats = join(hostRoot('cp'), 'etc/svcnet/nats');
    mkdirSync(cpNats, { recursive: true });
    for (const f of ['auth.conf', 'svcnet-allocator.creds', 'svcnet-state.creds']) cpSync(join(keys, f), join(cpNats, f));

    // Step 5: the control plane's files.
    installFile('config/nats-server.conf', 'cp', 'etc/svcnet/nats-server.conf');
    installFile('config/allocator.yaml', 'cp', 'etc/svcnet/allocator.yaml');
    installFile('config/state.yaml', 'cp', 'etc/svcnet/state.yaml');
    installFile('default/svcnet-allocator', 'cp', 'etc/default/svcnet-allocator');
    installFile('default/svcnet-state', 'cp', 'etc/default/svcnet-state');
    for (const u of ['svcnet-allocator.service', 'svcnet-state.service']) installFile(`systemd/${u}`, 'cp', `etc/systemd/system/${u}`);
    installFile('systemd/nats-server.service.d/svcnet.conf', 'cp', 'etc/systemd/system/nats-server.service.d/svcnet.conf');

    // Step 5, permissions: certificates and auth.conf readable by all, each key and credentials file by its program only.
    for (const f of readdirSync(pki).filter((x) => x.endsWith('.crt'))) chmodSync(join(pki, f), 0o644);
    for (const f of readdirSync(pki).filter((x) => x.endsWith('.key'))) chmodSync(join(pki, f), 0o640);
    chmodSync(join(cpNats, 'auth.conf'), 0o644);
    for (const f of ['state.key', 'allocator.key', 'state-allocator-client.key']) chownSync(join(pki, f), 0, SVCNET_UID);
    for (const f of ['svcnet-allocator.creds', 'svcnet-state.creds']) {
      chmodSync(join(cpNats, f), 0o640);
      chownSync(join(cpNats, f), 0, SVCNET_UID);
    }
    for (const dir of [root, join(root, 'hosts'), hostRoot('cp'), join(hostRoot('cp'), 'etc'), join(hostRoot('cp'), 'etc/svcnet'), pki, cpNats]) chmodSync(dir, 0o755);

    // Step 6: the control plane's services, as systemd starts them (nats-server from the drop-in).
    const dropIn = parseServiceUnit(readFileSync(join(hostRoot('cp'), 'etc/systemd/system/nats-server.service.d/svcnet.conf'), 'utf8'));
    mkdirSync(join(hostRoot('cp'), 'var/lib/svcnet-nats'), { recursive: true });
    const nats = cluster.startProcess('nats', cpNs, dropIn.execStart);
    await cluster.waitListening(nats, 4222);
    startUnit(join(hostRoot('cp'), 'etc/systemd/system/svcnet-allocator.service'), cpNs, 'allocator');
    await cluster.waitListening(cluster.state.processes.find((p) => p.component === 'allocator')!, 9401);
    startUnit(join(hostRoot('cp'), 'etc/systemd/system/svcnet-state.service'), cpNs, 'state');
    await cluster.waitListening(cluster.state.processes.find((p) => p.component === 'state')!, 9402);

    // Step 7: every node: the CA, its own credentials, kube-proxy.yaml, its environment file, the unit.
    for (const node of nodes) {
      const h = node.name;
      const etc = join(hostRoot(h), 'etc/svcnet');
      mkdirSync(join(etc, 'pki'), { recursive: true });
      mkdirSync(join(etc, 'nats'), { recursive: true });
      cpSync(caFile, join(etc, 'pki/ca.crt'));
      cpSync(join(keys, `svcnet-agent-${h}.creds`), join(etc, `nats/svcnet-agent-${h}.creds`));
      installFile('config/kube-proxy.yaml', h, 'etc/svcnet/kube-proxy.yaml');
      installFile('default/svcnet-agent', h, 'etc/default/svcnet-agent', {
        [Example.nodeName]: h,
        [Example.nodeIp]: node.ip,
      });
      const unit = installFile('systemd/svcnet-agent.service', h, 'etc/systemd/system/svcnet-agent.service');
      startUnit(unit, node.ns, `agent-${h}`);
    }
    for (const node of nodes) {
      await eventually(node.name, ['curl', '-sf', '--max-time', '2', 'http://127.0.0.1:10256/healthz'], () => true);
    }
  }, 300_000);

  afterAll(async () => {
    await Cluster.down({ name: NAME, stateDir: join(root, 'cluster') });
    rmSync(root, { recursive: true, force: true });
  });

  it('the units pass systemd-analyze verify with the installed programs', () => {
    const dir = join(root, 'verify');
    mkdirSync(dir, { recursive: true });
    const units = readdirSync(join(deploy, 'systemd')).filter((f) => f.endsWith('.service'));
    expect(units.sort()).toEqual(['svcnet-agent.service', 'svcnet-allocator.service', 'svcnet-dns.service', 'svcnet-state.service']);
    for (const u of units) writeFileSync(join(dir, u), render(readFileSync(join(deploy, 'systemd', u), 'utf8'), 'verify').replaceAll(`${hostRoot('verify')}/etc/`, '/etc/'));
    // The drop-in goes with the Debian package's nats-server.service.
    cpSync('/lib/systemd/system/nats-server.service', join(dir, 'nats-server.service'));
    mkdirSync(join(dir, 'nats-server.service.d'));
    cpSync(join(deploy, 'systemd/nats-server.service.d/svcnet.conf'), join(dir, 'nats-server.service.d/svcnet.conf'));
    // By name, from this directory first (drop-ins load that way only). Warnings (an unknown key,
    // a bad value) go to stderr with exit 0: both streams must be empty.
    const r = spawnSync('systemd-analyze', ['verify', ...units, 'nats-server.service'], {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, SYSTEMD_UNIT_PATH: `${dir}:` },
    });
    expect({ status: r.status, output: `${r.stdout}${r.stderr}` }).toEqual({ status: 0, output: '' });
  });

  it('every installed program prints its version', async () => {
    const version = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')).version as string;
    for (const p of ['svcnet-allocator', 'svcnet-state', 'svcnet-agent', 'svcnet-dns', 'svcnetctl']) {
      const out = execFileSync(bin(p), ['--version'], { encoding: 'utf8', env: { PATH: `${dirname(process.execPath)}:/usr/bin:/bin` } });
      expect(out).toMatch(new RegExp(`^${p} v${version.replaceAll('.', '\\.')} \\(commit [0-9a-f]{7,}`));
    }
  });

  it('runs the control plane unprivileged and the agents with only CAP_NET_ADMIN and CAP_NET_RAW', () => {
    const status = (pid: number): string => readFileSync(`/proc/${pid}/status`, 'utf8');
    const capBnd = (pid: number): bigint => BigInt(`0x${/^CapBnd:\s+([0-9a-f]+)/m.exec(status(pid))![1]}`);
    // The recorded pid is `ip netns exec`'s, which execs env, setpriv and then the program: one process.
    const pidOf = (component: string): number => cluster.state.processes.find((p) => p.component === component)!.pid;
    for (const c of ['allocator', 'state']) {
      expect(/^Uid:\s+(\d+)/m.exec(status(pidOf(c)))![1], c).toBe(String(SVCNET_UID));
      expect(capBnd(pidOf(c)), c).toBe(0n);
    }
    const NET_ADMIN = 12n;
    const NET_RAW = 13n;
    for (const n of cluster.state.plan.nodes) {
      const pid = pidOf(`agent-${n.name}`);
      expect(/^Uid:\s+(\d+)/m.exec(status(pid))![1]).toBe('0');
      expect(capBnd(pid)).toBe((1n << NET_ADMIN) | (1n << NET_RAW));
      expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')).toContain(bin('svcnet-agent'));
    }
  });

  it('reaches a ClusterIP from a pod and a NodePort from outside, through rules the installed agents programmed', async () => {
    const pods = [
      await cluster.addPod({ name: 'web-1', node: 1, labels: { app: 'web' }, ports: [{ name: 'http', port: 8080 }], command: PodCommands.httpWho(8080) }),
      await cluster.addPod({ name: 'web-2', node: 2, labels: { app: 'web' }, ports: [{ name: 'http', port: 8080 }], command: PodCommands.httpWho(8080) }),
    ];
    await cluster.addPod({ name: 'client', node: 2, command: ['sleep', 'infinity'], waitForPorts: false });
    const manifests = [
      ...pods.map(
        (p) => `apiVersion: v1
kind: Pod
metadata: {name: ${p.name}, labels: {app: web}}
spec:
  nodeName: ${p.node}
  containers: [{name: web, ports: [{name: http, containerPort: 8080}]}]
status: {podIP: ${p.ip}}
`,
      ),
      `apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80, targetPort: http}]
`,
    ].join('---\n');
    // From a node, as an operator's workstation would: svcnetctl with the admin context over mutual TLS.
    const applied = await ctl('node1', ['apply', '-f', '-'], { input: manifests });
    expect(applied.stdout).toBe('pod/web-1 created\npod/web-2 created\nservice/web created\n');
    const svc = JSON.parse((await ctl('node1', ['get', 'service', 'web', '-o', 'json'])).stdout) as {
      spec: { clusterIP: string; ports: { nodePort: number }[] };
    };
    const nodePort = svc.spec.ports[0]!.nodePort;
    expect(svc.spec.clusterIP).toMatch(/^10\.(9[6-9]|1[01][0-9])\./);

    const seen = new Set<string>();
    const deadline = Date.now() + 30_000;
    while (seen.size < 2 && Date.now() < deadline) {
      const r = await cluster.exec('client', ['curl', '-sS', '--max-time', '2', `http://${svc.spec.clusterIP}/`], { allowFailure: true });
      if (r.exitCode === 0) seen.add(r.stdout.split(' ')[0]!);
    }
    expect([...seen].sort()).toEqual(['web-1', 'web-2']);
    for (const n of cluster.state.plan.nodes) {
      const out = await eventually('ext', ['curl', '-sS', '--max-time', '2', `http://${n.ip}:${nodePort}/`], (o) => /^web-[12] /.test(o));
      expect(out).toMatch(/^web-[12] /);
    }
  });

  it('refuses a client without a certificate, a viewer writing, a wrong CA, and an agent writing to NATS', async () => {
    const anonymous = await cluster.exec('node1', [bin('svcnetctl'), '--server', `https://${cpIp}:9402`, '--certificate-authority', caFile, 'get', 'services'], {
      allowFailure: true,
    });
    expect(anonymous.exitCode).not.toBe(0);
    expect(anonymous.stderr).toMatch(/^Error from server \(Unauthorized\): .*needs a client certificate signed by the cluster CA/);

    const viewer = await ctl('node1', ['--context', 'viewer', 'delete', 'service', 'web'], { allowFailure: true });
    expect(viewer.exitCode).not.toBe(0);
    expect(viewer.stderr).toMatch(/^Error from server \(Forbidden\): User "viewer" \(groups svcnet:viewers\) cannot write/);

    const other = join(root, 'other-ca');
    execFileSync(bin('svcnetctl'), ['certs', 'init', '--dir', other], { stdio: 'pipe' });
    const wrongCa = await ctl('node1', ['--certificate-authority', join(other, 'ca.crt'), 'get', 'services'], { allowFailure: true });
    expect(wrongCa.exitCode).not.toBe(0);
    expect(wrongCa.stderr).toMatch(/tls: failed to verify the server certificate/);

    // An agent's own credentials, used from its node: reading is allowed, writing is not.
    const creds = join(hostRoot('node1'), 'etc/svcnet/nats/svcnet-agent-node1.creds');
    const script = `
      const { connect, credsAuthenticator } = require(${JSON.stringify(requireHere.resolve('@nats-io/transport-node'))});
      const { Kvm } = require(${JSON.stringify(requireHere.resolve('@nats-io/kv'))});
      const { readFileSync } = require('node:fs');
      (async () => {
        const nc = await connect({ servers: 'tls://${cpIp}:4222', timeout: 5000, tls: { caFile: ${JSON.stringify(join(hostRoot('node1'), 'etc/svcnet/pki/ca.crt'))} },
          authenticator: credsAuthenticator(readFileSync(${JSON.stringify(creds)})), inboxPrefix: '_INBOX_svcnet-agent-node1' });
        const kv = await new Kvm(nc).open('svcnet-state');
        const read = await kv.get('services.default.web');
        console.log('read ' + (read ? read.length : 0));
        try { await kv.put('services.default.web', new Uint8Array([1])); console.log('put accepted'); }
        catch (e) { console.log('put refused: ' + e.message); }
        try { await kv.delete('services.default.web'); console.log('delete accepted'); }
        catch (e) { console.log('delete refused: ' + e.message); }
        await nc.close();
      })().catch((e) => { console.error(e); process.exit(1); });`;
    const attempt = await cluster.exec('node1', [process.execPath, '-e', script], { timeoutMs: 30_000 });
    expect(attempt.stdout).toMatch(/^read [1-9]\d*$/m);
    expect(attempt.stdout).toMatch(/^put refused: .*(permission|timeout)/im);
    expect(attempt.stdout).toMatch(/^delete refused: .*(permission|timeout)/im);
    const still = JSON.parse((await ctl('node1', ['get', 'service', 'web', '-o', 'json'])).stdout) as { spec: { clusterIP: string } };
    expect(still.spec.clusterIP).toMatch(/^10\./);
  });
});
