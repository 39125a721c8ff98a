/**
 * Userspace mode against a real kernel: a node namespace with a bridge, two
 * pod namespaces running socat echo servers, a client pod. The backend runs in
 * a driver process inside the node namespace (a Node process cannot enter a
 * namespace itself). Needs root, iptables and socat.
 */
import { build } from 'esbuild';
import { type EndpointInfo, type ServicePortInfo } from '@svcnet/proxy-core';
import { buildServicePort } from '@svcnet/proxy-core/testing';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DriverClient, newUspLab } from './lab.js';

const canRun = process.getuid?.() === 0;
const lab = newUspLab();
const work = mkdtempSync(join(tmpdir(), 'usp-e2e-'));
const driverJs = join(work, 'driver.cjs');
let driver: DriverClient;

function svc(id: string, clusterIP: string, port: number, over: Partial<ServicePortInfo> = {}): ServicePortInfo {
  const [namespace, rest] = id.split('/') as [string, string];
  const [name, portName] = rest.split(':') as [string, string];
  return buildServicePort({ namespace, name, portName, clusterIP, port, ...over });
}
function ep(ip: string, port: number): EndpointInfo {
  return { ip, port, nodeName: 'node', isLocal: true, ready: true, serving: true, terminating: false };
}

const WEB = 'default/web:http';
const DNS = 'default/dns:dns';
const BULK = 'default/bulk:';

function services(webEndpoints: EndpointInfo[]) {
  return {
    services: [
      svc(WEB, '10.96.0.10', 80, { nodePort: 30080 }),
      svc(DNS, '10.96.0.53', 53, { protocol: 'UDP' }),
      svc(BULK, '10.96.0.30', 9000),
    ],
    endpoints: {
      [WEB]: webEndpoints,
      [DNS]: [ep(lab.pod('p1').ip, 5353), ep(lab.pod('p2').ip, 5353)],
      [BULK]: [ep(lab.pod('p2').ip, 9000)],
    },
  };
}

/** One request with socat from a namespace: send, half-close, read the reply. */
async function tcpRequest(ns: string, target: string, msg: string, connectTimeoutS = 5): Promise<string> {
  return (await lab.run(ns, 'socat', ['-t', '3', '-T', '5', '-', `TCP:${target},connect-timeout=${connectTimeoutS}`], msg)).trim();
}

async function startDriver(): Promise<DriverClient> {
  const child = lab.spawn(lab.node, process.execPath, [driverJs], { USP_NODE_IPS: lab.nodeIP, USP_UDP_IDLE_MS: '1000' });
  child.stderr!.on('data', () => undefined);
  const client = new DriverClient(child);
  await client.ready();
  return client;
}

async function natRules(): Promise<string[]> {
  const save = await lab.run(lab.node, 'iptables-save', []);
  return save.split('\n').filter((l) => /KUBE-(PORTALS|NODEPORT)/.test(l));
}

describe.skipIf(!canRun)('userspace mode in network namespaces (needs root)', () => {
  beforeAll(async () => {
    await build({
      entryPoints: [resolve(__dirname, 'driver.ts')],
      outfile: driverJs,
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      logLevel: 'warning',
    });
    await lab.create(['p1', 'p2', 'cl']);
    for (const name of ['p1', 'p2']) {
      const { ns } = lab.pod(name);
      lab.spawn(ns, 'socat', ['TCP-LISTEN:8080,fork,reuseaddr', `SYSTEM:printf ${name}-; exec cat`]);
      lab.spawn(ns, 'socat', ['UDP-LISTEN:5353,fork,reuseaddr', 'EXEC:cat']);
    }
    driver = await startDriver();
    // p1 and p2 serve; the client pod has no listener on 8080: a dead endpoint.
    const r = await driver.send<{ ports: Record<string, number> }>({
      cmd: 'apply',
      full: true,
      ...services([ep(lab.pod('p1').ip, 8080), ep(lab.pod('p2').ip, 8080), ep(lab.pod('cl').ip, 8080)]),
    });
    expect(Object.keys(r.ports).sort()).toEqual([BULK, DNS, WEB]);
    for (let i = 0; i < 50; i++) {
      const ok = await tcpRequest(lab.pod('cl').ns, `${lab.pod('p1').ip}:8080`, 'up').catch(() => '');
      const ok2 = await tcpRequest(lab.pod('cl').ns, `${lab.pod('p2').ip}:8080`, 'up').catch(() => '');
      if (ok && ok2) break;
      await new Promise((res) => setTimeout(res, 100));
    }
  });

  afterAll(async () => {
    try {
      await driver?.send({ cmd: 'cleanup' }).catch(() => undefined);
    } finally {
      await lab.destroy();
      rmSync(work, { recursive: true, force: true });
    }
  });

  it('pod → clusterIP:port reaches both endpoints and skips the one without a listener', async () => {
    const replies: string[] = [];
    for (let i = 0; i < 12; i++) replies.push(await tcpRequest(lab.pod('cl').ns, '10.96.0.10:80', `hello${i}`));
    expect(replies.every((r, i) => r === `p1-hello${i}` || r === `p2-hello${i}`)).toBe(true);
    expect(new Set(replies.map((r) => r.split('-')[0]))).toEqual(new Set(['p1', 'p2']));
    const metrics = (await driver.send<{ text: string }>({ cmd: 'metrics' })).text;
    expect(metrics).toMatch(/svcnet_userspace_dial_failures_total\{service="default\/web:http"\} [1-9]/);
  });

  const paths = [
    { name: 'pod → nodeIP:nodePort (KUBE-NODEPORT-CONTAINER)', from: () => lab.pod('cl').ns, target: () => `${lab.nodeIP}:30080` },
    { name: 'node itself → clusterIP:port (KUBE-PORTALS-HOST, DNAT to the node IP)', from: () => lab.node, target: () => '10.96.0.10:80' },
    { name: 'node itself → nodeIP:nodePort (KUBE-NODEPORT-HOST)', from: () => lab.node, target: () => `${lab.nodeIP}:30080` },
  ];
  for (const p of paths) {
    it(p.name, async () => {
      expect(await tcpRequest(p.from(), p.target(), 'x')).toMatch(/^p[12]-x$/);
    });
  }

  it('UDP echo through a ClusterIP', async () => {
    const reply = await lab.run(lab.pod('cl').ns, 'socat', ['-t', '2', '-T', '3', '-', 'UDP:10.96.0.53:53'], 'ping-udp\n');
    expect(reply.trim()).toBe('ping-udp');
  });

  it('an endpoint that never answers costs one 250 ms dial timeout, not the request', async () => {
    await driver.send({ cmd: 'apply', ...services([ep('10.244.1.99', 8080), ep(lab.pod('p1').ip, 8080)]) });
    for (let i = 0; i < 4; i++) {
      const started = Date.now();
      expect(await tcpRequest(lab.pod('cl').ns, '10.96.0.10:80', `t${i}`)).toBe(`p1-t${i}`);
      expect(Date.now() - started).toBeLessThan(2000);
    }
    await driver.send({ cmd: 'apply', ...services([ep(lab.pod('p1').ip, 8080), ep(lab.pod('p2').ip, 8080)]) });
  });

  it('a service without endpoints refuses connections at once (REJECT), and serves once it has one', async () => {
    await driver.send({ cmd: 'apply', ...services([]) });
    for (const [from, target] of [
      [lab.pod('cl').ns, '10.96.0.10:80'],
      [lab.pod('cl').ns, `${lab.nodeIP}:30080`],
      [lab.node, '10.96.0.10:80'],
    ] as const) {
      const started = Date.now();
      const err = await tcpRequest(from, target, 'x', 3).then(() => undefined, (e: Error) => e.message);
      expect(err, `${from} → ${target}: ${err}`).toMatch(/refused/i);
      expect(Date.now() - started).toBeLessThan(1500);
    }
    await driver.send({ cmd: 'apply', ...services([ep(lab.pod('p1').ip, 8080), ep(lab.pod('p2').ip, 8080)]) });
    expect(await tcpRequest(lab.pod('cl').ns, '10.96.0.10:80', 'back')).toMatch(/^p[12]-back$/);
  });

  it('detects drift and repairs it with a full sync', async () => {
    expect((await driver.send<{ drift: boolean }>({ cmd: 'drift' })).drift).toBe(false);
    await lab.run(lab.node, 'iptables', ['-t', 'nat', '-D', 'KUBE-PORTALS-CONTAINER', '1']);
    expect((await driver.send<{ drift: boolean }>({ cmd: 'drift' })).drift).toBe(true);
    await driver.send({ cmd: 'apply', full: true, ...services([ep(lab.pod('p1').ip, 8080), ep(lab.pod('p2').ip, 8080)]) });
    expect((await driver.send<{ drift: boolean }>({ cmd: 'drift' })).drift).toBe(false);
  });

  it('a 1 GiB transfer through the proxy arrives intact (sha256)', async () => {
    const sink = lab.spawn(lab.pod('p2').ns, 'socat', ['-u', '-b', '262144', 'TCP-LISTEN:9000,reuseaddr', 'STDOUT']);
    const received = createHash('sha256');
    let receivedBytes = 0;
    sink.stdout!.on('data', (d: Buffer) => {
      received.update(d);
      receivedBytes += d.length;
    });
    const sinkDone = new Promise<void>((r) => sink.on('close', () => r()));
    await new Promise((r) => setTimeout(r, 300));
    const sender = lab.spawn(lab.pod('cl').ns, 'socat', ['-u', '-b', '262144', 'STDIN', 'TCP:10.96.0.30:9000,connect-timeout=5']);
    const sent = createHash('sha256');
    const chunk = randomBytes(4 << 20);
    const total = 256; // × 4 MiB = 1 GiB
    for (let i = 0; i < total; i++) {
      chunk.writeUInt32BE(i, 0); // every chunk differs: reordering would show
      sent.update(chunk);
      if (!sender.stdin!.write(chunk)) await new Promise((r) => sender.stdin!.once('drain', r));
    }
    sender.stdin!.end();
    await sinkDone;
    expect(receivedBytes).toBe(total * chunk.length);
    expect(received.digest('hex')).toBe(sent.digest('hex'));
  }, 300_000);

  it('after an agent restart the portal chains are rewritten: no rule points at a dead port', async () => {
    await driver.send({ cmd: 'exit' }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 200));
    driver = await startDriver();
    const r = await driver.send<{ ports: Record<string, number> }>({
      cmd: 'apply',
      full: true,
      ...services([ep(lab.pod('p1').ip, 8080), ep(lab.pod('p2').ip, 8080)]),
    });
    const rules = await natRules();
    const targets = rules.flatMap((l) => [...l.matchAll(/(?:--to-ports |--to-destination [\d.]+:)(\d+)/g)].map((m) => Number(m[1])));
    expect(targets.length).toBeGreaterThan(0);
    expect(new Set(targets)).toEqual(new Set(Object.values(r.ports)));
    expect(rules.filter((l) => /^-A (PREROUTING|OUTPUT|INPUT|FORWARD) /.test(l))).toHaveLength(7);
    expect(await tcpRequest(lab.pod('cl').ns, '10.96.0.10:80', 'again')).toMatch(/^p[12]-again$/);
  });

  it('a deleted service closes its listener and its portal rules go away', async () => {
    await driver.send({ cmd: 'apply', services: [svc(WEB, '10.96.0.10', 80)], endpoints: { [WEB]: [ep(lab.pod('p1').ip, 8080)] } });
    const rules = await natRules();
    expect(rules.some((l) => l.includes('10.96.0.53'))).toBe(false);
    expect(rules.some((l) => l.includes('10.96.0.10'))).toBe(true);
  });

  it('cleanup removes the chains and jumps', async () => {
    await driver.send({ cmd: 'cleanup' });
    expect(await natRules()).toEqual([]);
    await expect(tcpRequest(lab.pod('cl').ns, '10.96.0.10:80', 'gone', 1)).rejects.toThrow();
  });
});
