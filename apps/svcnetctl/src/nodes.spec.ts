import { describe, expect, it } from 'vitest';
import type { NodeStatus } from '@svcnet/model';
import { runCli, type CliDeps } from './cli.js';
import { FakeStateApi } from './fake-state-api.js';
import type { NodeInfo, WaitProgrammedQuery } from '@svcnet/client';
import { at } from './test-builders.js';

function harness(files: Record<string, string> = {}) {
  const clock = at(600);
  const api = new FakeStateApi(() => clock);
  let stdout = '';
  let stderr = '';
  const deps: CliDeps = {
    env: {},
    connect: () => api,
    io: {
      stdout: (t) => void (stdout += t),
      stderr: (t) => void (stderr += t),
      readFile: async (path) => files[path] ?? '',
      expandPath: async (path) => [path],
      now: () => clock,
    },
  };
  return {
    api,
    async run(...argv: string[]) {
      stdout = '';
      stderr = '';
      const code = await runCli(argv, deps);
      return { code, stdout, stderr };
    },
  };
}

function node(name: string, over: Partial<NodeInfo> = {}, status: Partial<NodeStatus> = {}): NodeInfo {
  return {
    name,
    condition: 'Ready',
    lastHeartbeat: at(595),
    programmedRevision: 120,
    lag: 0,
    ...over,
    status: {
      nodeName: name,
      nodeIPs: ['10.0.0.1'],
      proxyMode: 'iptables',
      version: '0.1.0',
      programmedRevision: 120,
      feedRevision: 120,
      lastSync: { at: at(590), ok: true, full: false, durationMs: 12.4 },
      lastSyncErrors: [],
      counts: { services: 10, servicePorts: 12, endpoints: 30 },
      healthy: true,
      healthReason: '',
      feedConnected: true,
      heartbeatIntervalMs: 10_000,
      startedAt: at(0),
      registeredAt: at(0),
      reportedAt: at(595),
      ...status,
    },
  };
}

describe('svcnetctl get / describe nodes', () => {
  it('prints NAME STATUS MODE PROGRAMMED LAG AGE VERSION, asking agents for fresh progress first', async () => {
    const h = harness();
    h.api.nodes = [node('node1'), node('node2', { condition: 'NotReady', programmedRevision: 97, lag: 23 }, { proxyMode: 'nftables', registeredAt: at(-7200) })];
    expect(await h.run('get', 'nodes')).toEqual({
      code: 0,
      stdout: [
        'NAME    STATUS     MODE       PROGRAMMED   LAG   AGE    VERSION',
        'node1   Ready      iptables   120          0     10m    0.1.0',
        'node2   NotReady   nftables   97           23    130m   0.1.0',
        '',
      ].join('\n'),
      stderr: '',
    });
    expect(h.api.calls).toContain('listNodes 500');
    expect((await h.run('get', 'no', '-o', 'wide')).stdout.split('\n')[0]).toBe(
      'NAME    STATUS     MODE       PROGRAMMED   LAG   AGE    VERSION   NODE-IPS   LAST-SYNC      SERVICE-PORTS   ENDPOINTS   HEALTHY',
    );
    expect((await h.run('get', 'nodes', '-o', 'name')).stdout).toBe('node/node1\nnode/node2\n');
  });

  it('-o json and yaml print Node manifests; one named node prints bare', async () => {
    const h = harness();
    h.api.nodes = [node('node1')];
    const one = JSON.parse((await h.run('get', 'node', 'node1', '-o', 'json')).stdout) as Record<string, any>;
    expect(one).toMatchObject({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'node1' }, status: { conditions: [{ type: 'Ready', status: 'True' }], proxy: { mode: 'iptables', programmedRevision: 120, lag: 0 } } });
    const list = JSON.parse((await h.run('get', 'nodes', '-o', 'json')).stdout) as Record<string, any>;
    expect(list).toMatchObject({ kind: 'List', items: [{ kind: 'Node' }] });
    expect((await h.run('get', 'nodes', '-o', 'yaml')).stdout).toContain('kind: Node');
  });

  it('describe node shows what is programmed and the last sync errors', async () => {
    const h = harness();
    h.api.nodes = [
      node('node1', { programmedRevision: 110, lag: 10 }, {
        healthy: false,
        healthReason: 'changes wait to be programmed for longer than 2x --sync-period',
        lastSync: { at: at(598), ok: false, full: true, durationMs: 80 },
        lastSyncErrors: [
          { at: at(598), message: 'iptables apply failed: iptables-restore: line 7 failed' },
          { at: at(590), message: 'iptables apply failed: exit status 4' },
        ],
      }),
    ];
    const out = (await h.run('describe', 'node', 'node1')).stdout;
    expect(out).toContain('Name:               node1\nAddresses:          InternalIP: 10.0.0.1\n');
    expect(out).toMatch(/Ready\s+True\s+Fri, 27 Nov 2026 02:09:55 \+0000\s+AgentReporting/);
    expect(out).toMatch(/Programmed Revision:\s+110 \(lag 10\)/);
    expect(out).toMatch(/Last Sync:\s+Fri, 27 Nov 2026 02:09:58 \+0000 \(failed, full, 80ms\)/);
    expect(out).toMatch(/Last Sync Errors:\n\s+Fri, 27 Nov 2026 02:09:58 \+0000\s+iptables apply failed: iptables-restore: line 7 failed\n\s+Fri, 27 Nov 2026 02:09:50 \+0000\s+iptables apply failed: exit status 4\n/);
    expect(out).toMatch(/Healthy:\s+false \(changes wait/);
  });

  const misuse = [
    { name: 'a missing node', argv: ['get', 'node', 'ghost'], code: 1, stderr: 'Error from server (NotFound): nodes "ghost" not found\n' },
    { name: 'nodes mixed with services', argv: ['get', 'svc,nodes'], code: 2, stderr: 'error: nodes cannot be listed together with other resource types\n' },
    { name: 'watching nodes', argv: ['get', 'nodes', '-w'], code: 2, stderr: 'error: nodes take no -w, -l or -A\n' },
  ];
  for (const c of misuse) {
    it(`refuses ${c.name}`, async () => {
      const h = harness();
      expect(await h.run(...c.argv)).toMatchObject({ code: c.code, stderr: c.stderr });
    });
  }
});

const webService = `apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: v1
kind: Pod
metadata: {name: web-1, labels: {app: web}}
spec: {nodeName: node1}
status: {podIP: 10.244.1.5}
`;

describe('svcnetctl wait --for=programmed and apply --wait', () => {
  const answers = {
    done: (q: WaitProgrammedQuery) => ({ programmed: true, revision: 42, programmedNodes: [{ name: 'node1', programmedRevision: 42 }, { name: 'node2', programmedRevision: 43 }], pendingNodes: [], notReadyNodes: [{ name: 'node3', programmedRevision: 7 }], ...(q.revision ? { revision: q.revision } : {}) }),
    late: () => ({ programmed: false, revision: 42, programmedNodes: [{ name: 'node1', programmedRevision: 42 }], pendingNodes: [{ name: 'node2', programmedRevision: 40 }], notReadyNodes: [] }),
  };

  it('exit 0 once every Ready node has programmed it; NotReady nodes are named, not waited for', async () => {
    const h = harness({ 'web.yaml': webService });
    await h.run('apply', '-f', 'web.yaml');
    h.api.waitAnswers.push(answers.done);
    expect(await h.run('wait', '--for=programmed', 'service/web', '--timeout', '5s')).toEqual({
      code: 0,
      stdout: 'service/web condition met (revision 42 programmed on 2 nodes)\n',
      stderr: 'Warning: not waiting for NotReady node(s): node3\n',
    });
    expect(h.api.waits.at(-1)).toMatchObject({ namespace: 'default', name: 'web', revision: 0 });
    expect(h.api.waits.at(-1)!.timeoutMs).toBeGreaterThan(4_000);
  });

  it('exit 1 on a timeout, naming the nodes that have not and where they are', async () => {
    const h = harness({ 'web.yaml': webService });
    await h.run('apply', '-f', 'web.yaml');
    h.api.waitAnswers.push(answers.late);
    expect(await h.run('-n', 'default', 'wait', '--for=programmed', 'svc/web')).toEqual({
      code: 1,
      stdout: '',
      stderr: 'error: timed out waiting for the condition on service/web: revision 42 not programmed on node2 (at revision 40)\n',
    });
    expect(h.api.waits.at(-1)!.timeoutMs).toBeLessThanOrEqual(30_000);
  });

  const usage = [
    { name: 'another condition', argv: ['wait', '--for=delete', 'service/web'], stderr: /unrecognized condition/ },
    { name: 'a pod', argv: ['wait', '--for=programmed', 'pod/web-1'], stderr: /applies to services/ },
    { name: 'no resource', argv: ['wait', '--for=programmed'], stderr: /missing required argument|at least one/ },
  ];
  for (const c of usage) {
    it(`usage error: ${c.name}`, async () => {
      const r = await harness().run(...c.argv);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(c.stderr);
    });
  }

  it('a missing service is the server\'s NotFound', async () => {
    expect(await harness().run('wait', '--for=programmed', 'service/ghost')).toMatchObject({ code: 1, stderr: 'Error from server (NotFound): services "ghost" not found\n' });
  });

  it('apply --wait waits for the pod\'s revision, then the service; without --wait it does not', async () => {
    const h = harness({ 'web.yaml': webService });
    expect((await h.run('apply', '-f', 'web.yaml')).code).toBe(0);
    expect(h.api.waits).toEqual([]);
    h.api.waitAnswers.push(answers.done);
    const r = await h.run('apply', '-f', 'web.yaml', '--wait', '--timeout', '10s');
    expect(r).toMatchObject({ code: 0, stdout: expect.stringContaining('service/web unchanged\npod/web-1 unchanged\n') });
    expect(h.api.waits.map((w) => `${w.namespace}/${w.name}@${w.revision}`)).toEqual(['/@2', 'default/web@0']);
    expect(r.stdout).toContain('service/web condition met');
  });

  it('apply --wait fails (exit 1) when a node does not get there in time', async () => {
    const h = harness({ 'web.yaml': webService });
    h.api.waitAnswers.push(answers.late);
    const r = await h.run('apply', '-f', 'web.yaml', '--wait', '--timeout', '1s');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/not programmed on node2/);
  });
});
