import { describe, expect, it } from 'vitest';
import { resolveTargets } from './resources.js';
import { runCli, type CliDeps } from './cli.js';
import { FakeStateApi } from './fake-state-api.js';
import { at, pod } from './test-builders.js';

const podAndService = `apiVersion: v1
kind: Pod
metadata:
  name: redis
  labels: {app: redis, tier: cache}
spec:
  nodeName: node-1
  containers:
  - name: redis
    ports: [{name: redis, containerPort: 6379}]
status:
  podIP: 10.244.1.5
---
apiVersion: v1
kind: Service
metadata:
  name: redis-service
spec:
  type: NodePort
  selector: {app: redis}
  ports:
  - port: 6379
    targetPort: redis
`;

/** A CLI run against a FakeStateApi with in-memory files and a fixed clock. */
function harness(files: Record<string, string> = {}, env: Record<string, string> = {}) {
  let clock = at(0);
  const api = new FakeStateApi(() => clock);
  const connects: { server: string; timeoutMs: number }[] = [];
  let stdout = '';
  let stderr = '';
  const deps: CliDeps = {
    env,
    connect: ({ server, timeoutMs }) => {
      connects.push({ server, timeoutMs });
      return api;
    },
    io: {
      stdout: (t) => void (stdout += t),
      stderr: (t) => void (stderr += t),
      readFile: async (path) => {
        const text = files[path];
        if (text === undefined) throw new Error(`ENOENT: no such file or directory, open '${path}'`);
        return text;
      },
      expandPath: async (path) => [path],
      now: () => clock,
    },
  };
  return {
    api,
    connects,
    setFile: (path: string, text: string) => void (files[path] = text),
    advance: (seconds: number) => void (clock = new Date(clock.getTime() + seconds * 1000)),
    async run(...argv: string[]) {
      stdout = '';
      stderr = '';
      const code = await runCli(argv, deps);
      return { code, stdout, stderr };
    },
  };
}

describe('svcnetctl apply / get / describe / delete', () => {
  it('applies a pod and a service, then reports them unchanged, then configured', async () => {
    const h = harness({ 'app.yaml': podAndService });
    expect(await h.run('apply', '-f', 'app.yaml')).toEqual({
      code: 0,
      stdout: 'pod/redis created\nservice/redis-service created\n',
      stderr: '',
    });
    const created = await h.api.get('Service', 'default', 'redis-service');
    expect(created.spec.clusterIP).toBe('10.96.0.10');
    expect(created.spec.ports[0]!.nodePort).toBe(30000);

    expect((await h.run('apply', '-f', 'app.yaml')).stdout).toBe('pod/redis unchanged\nservice/redis-service unchanged\n');

    h.setFile('app.yaml', podAndService.replace('port: 6379', 'port: 6380'));
    expect(await h.run('apply', '-f', 'app.yaml')).toMatchObject({
      code: 0,
      stdout: 'pod/redis unchanged\nservice/redis-service configured\n',
    });
    const updated = await h.api.get('Service', 'default', 'redis-service');
    // ClusterIP and the allocated node port survive an apply that does not mention them.
    expect(updated.spec).toMatchObject({ clusterIP: '10.96.0.10', ports: [{ port: 6380, nodePort: 30000 }] });
    expect(h.api.calls).toContain('update Service default/redis-service');
  });

  it('prints get svc as kubectl does, with AGE from the clock', async () => {
    const h = harness({ 'app.yaml': podAndService });
    await h.run('apply', '-f', 'app.yaml');
    h.advance(65);
    expect(await h.run('get', 'svc')).toEqual({
      code: 0,
      stdout: [
        'NAME            TYPE       CLUSTER-IP   EXTERNAL-IP   PORT(S)          AGE',
        'redis-service   NodePort   10.96.0.10   <none>        6379:30000/TCP   65s',
        '',
      ].join('\n'),
      stderr: '',
    });
    expect((await h.run('get', 'pods', '-o', 'wide')).stdout).toBe(
      [
        'NAME    READY   STATUS    IP           NODE     AGE   LABELS',
        'redis   1/1     Running   10.244.1.5   node-1   65s   app=redis,tier=cache',
        '',
      ].join('\n'),
    );
    expect((await h.run('get', 'svc,po')).stdout).toBe(
      [
        'NAME                    TYPE       CLUSTER-IP   EXTERNAL-IP   PORT(S)          AGE',
        'service/redis-service   NodePort   10.96.0.10   <none>        6379:30000/TCP   65s',
        '',
        'NAME        READY   STATUS    IP           NODE     AGE',
        'pod/redis   1/1     Running   10.244.1.5   node-1   65s',
        '',
      ].join('\n'),
    );
    // `get all`: pods then services, names prefixed by kind, as kubectl prints its "all" category.
    expect((await h.run('get', 'all')).stdout).toBe(
      [
        'NAME        READY   STATUS    IP           NODE     AGE',
        'pod/redis   1/1     Running   10.244.1.5   node-1   65s',
        '',
        'NAME                    TYPE       CLUSTER-IP   EXTERNAL-IP   PORT(S)          AGE',
        'service/redis-service   NodePort   10.96.0.10   <none>        6379:30000/TCP   65s',
        '',
      ].join('\n'),
    );
    expect((await h.run('get', 'all', '-o', 'name')).stdout).toBe('pod/redis\nservice/redis-service\n');
    expect(resolveTargets(['all,ep', 'x']).map((t) => `${t.kind} ${t.names.join(',')}`)).toEqual(['Pod x', 'Service x', 'Endpoints x']);
    expect((await h.run('get', 'svc', '-o', 'name')).stdout).toBe('service/redis-service\n');
    expect((await h.run('get', 'service/redis-service', 'pod/redis', '-o', 'name')).stdout).toBe('service/redis-service\npod/redis\n');
  });

  it('get -w prints the list, then a row per change, widening columns as needed', async () => {
    const h = harness({ 'app.yaml': podAndService });
    await h.run('apply', '-f', 'app.yaml');
    h.advance(5);
    const redis = await h.api.get('Pod', 'default', 'redis');
    h.api.watchScript.push(
      { type: 'MODIFIED', object: { ...redis, ready: false }, namespace: 'default', name: 'redis' },
      { type: 'ADDED', object: pod({ name: 'elsewhere', namespace: 'other', created: at(0) }), namespace: 'other', name: 'elsewhere' },
      { type: 'ADDED', object: pod({ name: 'redis-long-name', ip: '10.244.1.9', nodeName: 'node-1', created: at(0) }), namespace: 'default', name: 'redis-long-name' },
      { type: 'DELETED', namespace: 'default', name: 'redis' },
    );
    // The fake does not filter its script by namespace; the pod in "other" shows the watch filter is the server's job.
    expect(await h.run('get', 'pods', '-w', '-l', 'app=redis')).toEqual({
      code: 0,
      stdout: [
        'NAME    READY   STATUS    IP           NODE     AGE',
        'redis   1/1     Running   10.244.1.5   node-1   5s',
        'redis   0/1     Running   10.244.1.5   node-1   5s',
        // The deletion arrives without a body: the last version seen is printed.
        'redis   0/1     Running   10.244.1.5   node-1   5s',
        '',
      ].join('\n'),
      stderr: '',
    });
    expect(await h.run('get', 'pods', '-w')).toMatchObject({
      code: 0,
      stdout: [
        'NAME    READY   STATUS    IP           NODE     AGE',
        'redis   1/1     Running   10.244.1.5   node-1   5s',
        'redis   0/1     Running   10.244.1.5   node-1   5s',
        'elsewhere   1/1     Running   <none>       <none>   5s',
        'redis-long-name   1/1     Running   10.244.1.9   node-1   5s',
        'redis             0/1     Running   10.244.1.5   node-1   5s',
        '',
      ].join('\n'),
    });
    expect(h.api.calls.filter((c) => c.startsWith('watch'))).toEqual(['watch Pod default', 'watch Pod default']);
  });

  it('prints JSON and YAML: one named object bare, a list as kind: List', async () => {
    const h = harness({ 'app.yaml': podAndService });
    await h.run('apply', '-f', 'app.yaml');
    const one = JSON.parse((await h.run('get', 'svc', 'redis-service', '-o', 'json')).stdout);
    expect(one).toMatchObject({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'redis-service' }, spec: { clusterIP: '10.96.0.10' } });
    const yaml = (await h.run('get', 'pods', '-o', 'yaml')).stdout;
    expect(yaml).toMatch(/^apiVersion: v1\nitems:\n- apiVersion: v1\n {2}kind: Pod\n/);
    expect(yaml).toContain('kind: List');
  });

  it('says "No resources found" on stderr for an empty list', async () => {
    const h = harness();
    expect(await h.run('get', 'svc', '-n', 'empty')).toEqual({ code: 0, stdout: '', stderr: 'No resources found in empty namespace.\n' });
    expect(await h.run('get', 'ep', '-A')).toEqual({ code: 0, stdout: '', stderr: 'No resources found\n' });
    expect(h.api.calls).toEqual(['list Service empty ', 'list Endpoints * ']);
  });

  it('warns on stderr about a record the server cannot decode, and keeps the table', async () => {
    const h = harness();
    h.api.brokenRecords.push({ kind: 'Service', record: { namespace: 'default', name: 'junk', revision: 12, error: 'invalid wire type 7' } });
    const r = await h.run('get', 'svc');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      'Warning: services "junk" in namespace "default" is broken: the stored record (revision 12) cannot be decoded: invalid wire type 7; remove it with: svcnetctl delete service junk -n default\n',
    );
  });

  it('describes a service with its endpoints', async () => {
    const h = harness({ 'app.yaml': podAndService });
    await h.run('apply', '-f', 'app.yaml');
    const out = await h.run('describe', 'svc', 'redis-service');
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('Type:                     NodePort\n');
    expect(out.stdout).toContain('NodePort:                 <unset>  30000/TCP\n');
    // No Endpoints object in the fake: kubectl shows <none>.
    expect(out.stdout).toContain('Endpoints:                <none>\n');
  });

  it('deletes by file and by name; a missing object is a server NotFound (exit 1)', async () => {
    const h = harness({ 'app.yaml': podAndService });
    await h.run('apply', '-f', 'app.yaml');
    expect(await h.run('delete', '-f', 'app.yaml')).toEqual({
      code: 0,
      stdout: 'pod "redis" deleted\nservice "redis-service" deleted\n',
      stderr: '',
    });
    expect(await h.run('delete', 'svc', 'redis-service')).toEqual({
      code: 1,
      stdout: '',
      stderr: 'Error from server (NotFound): services "redis-service" not found\n',
    });
    expect(await h.run('delete', 'svc', 'redis-service', '--ignore-not-found')).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(await h.run('get', 'po', 'redis')).toEqual({
      code: 1,
      stdout: '',
      stderr: 'Error from server (NotFound): pods "redis" not found\n',
    });
  });

  it("reports the server's validation error and goes on with the other documents", async () => {
    const h = harness({ 'bad.yaml': podAndService.replace('port: 6379', 'port: 0') });
    expect(await h.run('apply', '-f', 'bad.yaml')).toEqual({
      code: 1,
      stdout: 'pod/redis created\n',
      stderr:
        'Error from server (Invalid): error when applying "bad.yaml": spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive\n',
    });
  });
});

describe('svcnetctl expose', () => {
  async function withPod(labels: Record<string, string>) {
    const h = harness();
    await h.api.create('Pod', pod({ name: 'redis', labels, ip: '10.244.1.5', containerPorts: [{ name: 'redis', containerPort: 6379, protocol: 'TCP' }] }));
    return h;
  }

  it("expose pod: selector and labels from the pod's labels", async () => {
    const h = await withPod({ app: 'redis', tier: 'cache' });
    expect(
      await h.run('expose', 'pod', 'redis', '--port', '6379', '--target-port', '6379', '--name', 'redis-service', '--type', 'ClusterIP'),
    ).toEqual({ code: 0, stdout: 'service/redis-service exposed\n', stderr: '' });
    const svc = await h.api.get('Service', 'default', 'redis-service');
    expect(svc.spec).toMatchObject({
      type: 'ClusterIP',
      selector: { app: 'redis', tier: 'cache' },
      ports: [{ name: '', port: 6379, targetPort: 6379, protocol: 'TCP' }],
    });
    expect(svc.metadata.labels).toEqual({ app: 'redis', tier: 'cache' });
  });

  it('expose pod without --port takes the container ports; expose service copies selector and ports', async () => {
    const h = await withPod({ app: 'redis' });
    expect((await h.run('expose', 'po', 'redis', '--type', 'NodePort')).stdout).toBe('service/redis exposed\n');
    const first = await h.api.get('Service', 'default', 'redis');
    expect(first.spec.ports).toEqual([{ name: '', port: 6379, targetPort: 6379, protocol: 'TCP', nodePort: 30000 }]);

    expect((await h.run('expose', 'svc', 'redis', '--name', 'redis-copy')).code).toBe(0);
    const copy = await h.api.get('Service', 'default', 'redis-copy');
    expect(copy.spec).toMatchObject({ type: 'ClusterIP', selector: { app: 'redis' }, ports: [{ port: 6379, targetPort: 6379, nodePort: 0 }] });
  });

  it('expose --dry-run=client -o yaml prints the service without creating it', async () => {
    const h = await withPod({ app: 'redis' });
    const out = await h.run('expose', 'pod', 'redis', '--port', '80', '--target-port', 'redis', '--dry-run', 'client', '-o', 'yaml');
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('targetPort: redis\n');
    expect(h.api.calls.filter((c) => c.startsWith('create Service'))).toEqual([]);
  });

  it('refuses a pod without labels (exit 1)', async () => {
    const h = await withPod({});
    expect(await h.run('expose', 'pod', 'redis', '--port', '80')).toEqual({
      code: 1,
      stdout: '',
      stderr: "error: couldn't retrieve selectors via --selector flag or introspection: the pod has no labels and cannot be exposed\n",
    });
  });
});

describe('svcnetctl usage, server address, exit codes', () => {
  const usage: { name: string; argv: string[]; stderr: RegExp }[] = [
    { name: 'unknown resource type', argv: ['get', 'deployments'], stderr: /^error: the server doesn't have a resource type "deployments"\n$/ },
    { name: 'unknown output format', argv: ['get', 'svc', '-o', 'xml'], stderr: /unable to match a printer suitable for the output format "xml"/ },
    { name: 'unknown flag', argv: ['get', 'svc', '--bogus'], stderr: /unknown option '--bogus'/ },
    { name: 'unknown command', argv: ['frobnicate'], stderr: /unknown command 'frobnicate'/ },
    { name: 'apply without -f', argv: ['apply'], stderr: /required option '-f, --filename <path>' not specified/ },
    { name: 'bad --type', argv: ['expose', 'pod', 'x', '--type', 'ExternalName'], stderr: /Allowed choices are ClusterIP, NodePort, LoadBalancer/ },
    { name: 'non-numeric --port', argv: ['expose', 'pod', 'x', '--port', 'http'], stderr: /must be a port number/ },
    { name: 'get by name across namespaces', argv: ['get', 'svc', 'x', '-A'], stderr: /cannot be retrieved by name across all namespaces/ },
  ];
  it.each(usage)('$name exits 2', async ({ argv, stderr }) => {
    const h = await (async () => {
      const x = harness();
      await x.api.create('Pod', pod({ name: 'x', labels: { a: 'b' } }));
      return x;
    })();
    const out = await h.run(...argv);
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(stderr);
  });

  it('--help exits 0', async () => {
    const out = await harness().run('get', '--help');
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('Usage: svcnetctl get');
  });

  const servers: { name: string; env: Record<string, string>; argv: string[]; want: string }[] = [
    { name: 'default', env: {}, argv: [], want: '127.0.0.1:9402' },
    { name: 'SVCNET_SERVER', env: { SVCNET_SERVER: '10.0.0.1:1234' }, argv: [], want: '10.0.0.1:1234' },
    { name: '--server wins over the environment', env: { SVCNET_SERVER: '10.0.0.1:1234' }, argv: ['--server', 'state:9402'], want: 'state:9402' },
    { name: '-s after the subcommand', env: {}, argv: ['-s', 'other:1'], want: 'other:1' },
  ];
  it.each(servers)('server address: $name', async ({ env, argv, want }) => {
    const h = harness({}, env);
    await h.run('get', 'svc', ...argv);
    expect(h.connects).toEqual([{ server: want, timeoutMs: 30_000 }]);
    expect(h.api.closed).toBe(true);
  });

  it('refuses a manifest whose namespace differs from an explicit -n', async () => {
    const h = harness({ 'x.yaml': 'apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: a}\n' });
    expect(await h.run('apply', '-f', 'x.yaml', '-n', 'b')).toEqual({
      code: 1,
      stdout: '',
      stderr: `error: the namespace from the provided object "a" does not match the namespace "b". You must pass '--namespace=a' to perform this operation.\n`,
    });
    expect(h.api.calls).toEqual([]);
  });

  it('reports an unreadable file without calling the server', async () => {
    const out = await harness().run('apply', '-f', 'missing.yaml');
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/^error: the path "missing.yaml" cannot be read: ENOENT/);
  });
});

describe('--request-timeout', () => {
  it('takes Go durations and plain seconds, and refuses anything else as a usage error', async () => {
    for (const [text, ms] of [['30', 30_000], ['1m30s', 90_000], ['500ms', 500]] as const) {
      const h = harness();
      expect((await h.run('--request-timeout', text, 'get', 'services')).code).toBe(0);
      expect(h.connects.at(-1)?.timeoutMs).toBe(ms);
    }
    const bad = await harness().run('--request-timeout', '30x', 'get', 'services');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/invalid duration "30x"/);
  });
});
