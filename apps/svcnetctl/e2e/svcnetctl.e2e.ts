/**
 * svcnetctl against the real thing: nats-server, the built allocator and state
 * service (mutual TLS, certificates from `svcnetctl certs init`), and the built
 * CLI with its config file, each a separate process. Needs `npx nx run-many -t build`
 * first (the test command does that).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startNatsServer, waitForPort, type NatsServerHandle } from '@svcnet/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
const bundle = (app: string): string => join(root, 'apps', app, 'dist', 'main.cjs');

let nats: NatsServerHandle | undefined;
const children: ChildProcess[] = [];
let server = '';
let dir = '';

function startApp(app: string, args: string[]): ChildProcess {
  const child = spawn(process.execPath, [bundle(app), ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.on('data', (d: Buffer) => {
    log = (log + d.toString()).slice(-4000);
  });
  child.once('exit', (code, signal) => {
    if (code !== null && code !== 0) process.stderr.write(`${app} exited ${code} ${signal ?? ''}: ${log}\n`);
  });
  children.push(child);
  return child;
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function ctl(...args: string[]): Promise<Run> {
  return new Promise((resolvePromise) => {
    execFile(
      process.execPath,
      [bundle('svcnetctl'), ...args],
      { env: { ...process.env, SVCNETCONFIG: join(dir, 'pki', 'config'), SVCNET_SERVER: '', HOME: dir }, timeout: 30_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolvePromise({ code, stdout, stderr });
      },
    );
  });
}

async function eventually<T>(read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (ok(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
}

const manifest = `apiVersion: v1
kind: Pod
metadata:
  name: redis
  labels:
    app: redis
    tier: cache
spec:
  nodeName: node-1
  containers:
  - name: redis
    ports:
    - name: redis
      containerPort: 6379
status:
  podIP: 10.244.1.5
---
apiVersion: v1
kind: Service
metadata:
  name: redis-service
spec:
  selector:
    app: redis
  ports:
  - port: 6379
    targetPort: redis
`;

beforeAll(async () => {
  for (const app of ['allocator', 'state', 'svcnetctl']) {
    if (!existsSync(bundle(app))) throw new Error(`${bundle(app)} is missing: run \`npx nx run ${app}:build\` first`);
  }
  dir = mkdtempSync(join(tmpdir(), 'svcnetctl-e2e-'));
  nats = await startNatsServer();
  const [allocatorPort, statePort] = [await freePort(), await freePort()];
  const pki = join(dir, 'pki');
  const init = await ctl('certs', 'init', '--dir', pki, '--server-hosts', '127.0.0.1', '--state-server', `127.0.0.1:${statePort}`);
  expect(init.code, init.stderr).toBe(0);
  const serving = (name: string) => ['--tls-cert-file', join(pki, `${name}.crt`), '--tls-private-key-file', join(pki, `${name}.key`), '--client-ca-file', join(pki, 'ca.crt')];
  startApp('allocator', [
    ...serving('allocator'),
    '--listen', `127.0.0.1:${allocatorPort}`,
    '--nats-url', nats.url,
    '--service-cluster-ip-range', '10.96.0.0/16',
    '--service-node-port-range', '30000-30100',
    '--pod-network-cidr', '10.244.0.0/16',
    '--metrics-bind-address', '127.0.0.1:0',
  ]);
  await waitForPort(allocatorPort, '127.0.0.1', 30_000);
  startApp('state', [
    ...serving('state'),
    '--allocator-ca-file', join(pki, 'ca.crt'),
    '--allocator-client-cert-file', join(pki, 'state-allocator-client.crt'),
    '--allocator-client-key-file', join(pki, 'state-allocator-client.key'),
    '--listen', `127.0.0.1:${statePort}`,
    '--nats-url', nats.url,
    '--allocator-url', `127.0.0.1:${allocatorPort}`,
    '--pod-network-cidr', '10.244.0.0/16',
  ]);
  await waitForPort(statePort, '127.0.0.1', 30_000);
  server = `127.0.0.1:${statePort}`;
});

afterAll(async () => {
  for (const child of children) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
  await nats?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A cell of kubectl's CLUSTER-IP column: as wide as its widest cell (header or IP) plus 3. */
function clusterIpCell(text: string, ip: string): string {
  return text.padEnd(Math.max('CLUSTER-IP'.length, ip.length) + 3);
}

describe('svcnetctl end to end (nats-server + allocator + state)', () => {
  let clusterIP = '';

  it('applies a pod and a service from one YAML file', async () => {
    const file = join(dir, 'redis.yaml');
    writeFileSync(file, manifest);
    expect(await ctl('apply', '-f', file)).toEqual({ code: 0, stdout: 'pod/redis created\nservice/redis-service created\n', stderr: '' });
    const again = await ctl('apply', '-f', file);
    expect(again).toEqual({ code: 0, stdout: 'pod/redis unchanged\nservice/redis-service unchanged\n', stderr: '' });
  });

  it('gets the service as a kubectl table with the allocated ClusterIP', async () => {
    const json = await ctl('get', 'svc', 'redis-service', '-o', 'json');
    expect(json.code).toBe(0);
    clusterIP = JSON.parse(json.stdout).spec.clusterIP;
    expect(clusterIP).toMatch(/^10\.96\.\d+\.\d+$/);

    const table = await ctl('get', 'svc');
    expect(table.code).toBe(0);
    // AGE is the only moving part.
    expect(table.stdout.replace(/\d+s\n/g, 'Ns\n')).toBe(
      [
        `NAME            TYPE        ${clusterIpCell('CLUSTER-IP', clusterIP)}EXTERNAL-IP   PORT(S)    AGE`,
        `redis-service   ClusterIP   ${clusterIpCell(clusterIP, clusterIP)}<none>        6379/TCP   Ns`,
        '',
      ].join('\n'),
    );
  });

  it('shows the endpoints the state service derived from the pod', async () => {
    const ep = await eventually(
      () => ctl('get', 'endpoints', 'redis-service'),
      (r) => r.stdout.includes('10.244.1.5:6379'),
    );
    expect(ep.stdout.replace(/\d+s\n/g, 'Ns\n')).toBe(
      ['NAME            ENDPOINTS         AGE', 'redis-service   10.244.1.5:6379   Ns', ''].join('\n'),
    );
    const describe = await ctl('describe', 'service', 'redis-service');
    expect(describe.code).toBe(0);
    expect(describe.stdout).toContain(`IP:                       ${clusterIP}\n`);
    expect(describe.stdout).toContain('Selector:                 app=redis\n');
    expect(describe.stdout).toContain('TargetPort:               redis/TCP\n');
    expect(describe.stdout).toContain('Endpoints:                10.244.1.5:6379\n');

    const trace = await ctl('trace', `${clusterIP}:6379`);
    expect(trace.code).toBe(0);
    expect(trace.stdout).toContain('Service:                  default/redis-service (ClusterIP, via cluster IP)\n');
    expect(trace.stdout).toMatch(/\n {2}10\.244\.1\.5:6379 +ready +default\/redis +node-1\n/);
    expect((await ctl('trace', `${clusterIP}:6380`)).code).toBe(1);
  });

  it("exposes the pod as a NodePort service selecting the pod's labels", async () => {
    const out = await ctl('expose', 'pod', 'redis', '--port', '80', '--target-port', '6379', '--name', 'redis-web', '--type', 'NodePort');
    expect(out).toEqual({ code: 0, stdout: 'service/redis-web exposed\n', stderr: '' });
    const svc = JSON.parse((await ctl('get', 'svc', 'redis-web', '-o', 'json')).stdout);
    expect(svc.spec.selector).toEqual({ app: 'redis', tier: 'cache' });
    expect(svc.spec.type).toBe('NodePort');
    const nodePort = svc.spec.ports[0].nodePort as number;
    expect(nodePort).toBeGreaterThanOrEqual(30000);
    expect(nodePort).toBeLessThanOrEqual(30100);
    const wide = await ctl('get', 'svc', '-A', '-o', 'wide');
    expect(wide.stdout.split('\n')[0]).toMatch(/^NAMESPACE +NAME +TYPE +CLUSTER-IP +EXTERNAL-IP +PORT\(S\) +AGE +SELECTOR$/);
    expect(wide.stdout).toMatch(new RegExp(`\\ndefault +redis-web +NodePort +[0-9.]+ +<none> +80:${nodePort}/TCP +\\d+s +app=redis,tier=cache\\n`));
  });

  it('get -w streams a readiness change from State.Watch', async () => {
    const watcher = spawn(process.execPath, [bundle('svcnetctl'), 'get', 'pods', '-w'], {
      env: { ...process.env, SVCNETCONFIG: join(dir, 'pki', 'config'), SVCNET_SERVER: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    watcher.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await eventually(async () => out, (o) => o.includes('redis'), 20_000);
      const file = join(dir, 'not-ready.yaml');
      writeFileSync(file, manifest.split('---')[0]!.replace('  podIP: 10.244.1.5', '  podIP: 10.244.1.5\n  conditions: [{type: Ready, status: "False"}]'));
      expect((await ctl('apply', '-f', file)).stdout).toBe('pod/redis configured\n');
      await eventually(async () => out, (o) => /\nredis +0\/1 +Running/.test(o), 20_000);
      expect(out).toMatch(/^NAME +READY +STATUS +IP +NODE +AGE\nredis +1\/1 +Running +10\.244\.1\.5 +node-1 +\S+\nredis +0\/1 +Running/);
    } finally {
      watcher.kill('SIGTERM');
    }
  });

  it("fails with the server's message on an invalid port (exit 1)", async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'apiVersion: v1\nkind: Service\nmetadata: {name: bad}\nspec:\n  selector: {app: x}\n  ports:\n  - port: 70000\n');
    const out = await ctl('apply', '-f', file);
    expect(out.code).toBe(1);
    expect(out.stdout).toBe('');
    expect(out.stderr).toMatch(/^Error from server \(Invalid\): error when applying ".*bad\.yaml": .*spec\.ports\[0\]\.port.*\n$/);
    const expose = await ctl('expose', 'pod', 'redis', '--port', '0', '--name', 'zero');
    expect(expose.code).toBe(1);
    expect(expose.stderr).toMatch(/^Error from server \(Invalid\): .*port/);
    expect((await ctl('get', 'svc', 'bad')).stderr).toMatch(/^Error from server \(NotFound\): /);
  });

  it('deletes what the file created; the objects are gone afterwards', async () => {
    const out = await ctl('delete', '-f', join(dir, 'redis.yaml'));
    expect(out).toEqual({ code: 0, stdout: 'pod "redis" deleted\nservice "redis-service" deleted\n', stderr: '' });
    const gone = await ctl('get', 'svc', 'redis-service');
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/^Error from server \(NotFound\): /);
    expect((await ctl('delete', 'svc', 'redis-web')).stdout).toBe('service "redis-web" deleted\n');
    expect(await ctl('get', 'svc')).toEqual({ code: 0, stdout: '', stderr: 'No resources found in default namespace.\n' });
  });

  it('says the connection was refused when nothing listens', async () => {
    const closed = await freePort();
    const out = await ctl('--server', `127.0.0.1:${closed}`, 'get', 'pods');
    expect(out).toEqual({
      code: 1,
      stdout: '',
      stderr: `The connection to the server 127.0.0.1:${closed} was refused - did you specify the right host or port?\n`,
    });
  });

  it('refuses who may not: a viewer writing, no client certificate, a wrong CA, plaintext to a TLS server', async () => {
    const viewer = await ctl('--context', 'viewer', 'delete', 'svc', 'anything');
    expect(viewer.code).toBe(1);
    expect(viewer.stderr).toMatch(/^Error from server \(Forbidden\): User "viewer" \(groups svcnet:viewers\) cannot write through svcnet\.v1\.State\/DeleteService: svcnet:editors is required/);
    expect((await ctl('--context', 'viewer', 'get', 'svc')).code).toBe(0);

    const pki = join(dir, 'pki');
    const anonymous = await ctl('--svcnetconfig', '/dev/null', '--server', server, '--certificate-authority', join(pki, 'ca.crt'), 'get', 'pods');
    expect(anonymous.code).toBe(1);
    expect(anonymous.stderr).toMatch(/^Error from server \(Unauthorized\): Unauthorized: ListPods on svcnet\.v1\.State needs a client certificate signed by the cluster CA/);

    const other = join(dir, 'other-pki');
    expect((await ctl('certs', 'init', '--dir', other, '--server-hosts', '127.0.0.1')).code).toBe(0);
    const wrongCa = await ctl('--svcnetconfig', '/dev/null', '--server', server, '--certificate-authority', join(other, 'ca.crt'),
      '--client-certificate', join(pki, 'admin.crt'), '--client-key', join(pki, 'admin.key'), 'get', 'pods');
    expect(wrongCa.code).toBe(1);
    expect(wrongCa.stderr).toMatch(/^Unable to connect to the server 127\.0\.0\.1:\d+: tls: failed to verify the server certificate: .+\(check certificate-authority\)/);

    const foreignClient = await ctl('--svcnetconfig', '/dev/null', '--server', server, '--certificate-authority', join(pki, 'ca.crt'),
      '--client-certificate', join(other, 'admin.crt'), '--client-key', join(other, 'admin.key'), 'get', 'pods');
    expect(foreignClient.stderr).toMatch(/\(Unauthorized\)/);

    const plaintext = await ctl('--svcnetconfig', '/dev/null', '--server', `http://${server}`, '--request-timeout', '3s', 'get', 'pods');
    expect(plaintext.code).toBe(1);
    expect(plaintext.stderr).not.toBe('');

    const mismatched = await ctl('--svcnetconfig', '/dev/null', '--server', server, '--certificate-authority', join(pki, 'ca.crt'),
      '--client-certificate', join(pki, 'admin.crt'), '--client-key', join(pki, 'viewer.key'), 'get', 'pods');
    expect(mismatched.stderr).toMatch(/^error: client-key .*viewer\.key: does not match .*admin\.crt/);
  });

  it('servers refuse to start on bad TLS files, naming the flag and the path', async () => {
    const pki = join(dir, 'pki');
    const run = (args: string[]) =>
      new Promise<Run>((res) =>
        execFile(process.execPath, [bundle('allocator'), '--listen', '127.0.0.1:0', '--metrics-bind-address', '', ...args], { timeout: 20_000 }, (err, stdout, stderr) =>
          res({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
        ),
      );
    const cases: { name: string; args: string[]; message: RegExp }[] = [
      { name: 'missing files', args: [], message: /--tls-cert-file: TLS needs --tls-cert-file, --tls-private-key-file, --client-ca-file .*--plaintext/ },
      {
        name: 'unreadable certificate',
        args: ['--tls-cert-file', join(pki, 'nope.crt'), '--tls-private-key-file', join(pki, 'allocator.key'), '--client-ca-file', join(pki, 'ca.crt')],
        message: /--tls-cert-file .*nope\.crt: cannot be read/,
      },
      {
        name: 'key of another certificate',
        args: ['--tls-cert-file', join(pki, 'allocator.crt'), '--tls-private-key-file', join(pki, 'state.key'), '--client-ca-file', join(pki, 'ca.crt')],
        message: /--tls-private-key-file .*state\.key: does not match the certificate .*allocator\.crt/,
      },
    ];
    for (const c of cases) {
      const r = await run(c.args);
      expect(r.code, c.name).toBe(1);
      expect(r.stderr, c.name).toMatch(c.message);
    }
  });
});
