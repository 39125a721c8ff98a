/**
 * Helpers of the data-plane e2e table: services through the State API,
 * traffic from inside namespaces, polling, and raw writes to the KV bucket.
 * Everything runs inside the cluster's namespaces; the root namespace only
 * hosts this test process.
 */
import { createRequire } from 'node:module';
import { Metadata, type ServiceError } from '@grpc/grpc-js';
import { serviceFromProto, serviceToProto, type v1 } from '@svcnet/api';
import type { Service, ServicePort, SessionAffinity, TrafficPolicy } from '@svcnet/model';
import { ControlPlanePorts, type Cluster } from '@svcnet/cluster';

import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const SERVICE_PORT = 80;
export const TARGET_PORT = 8080;

const WHO_SERVER = `
import os, socket, sys
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("0.0.0.0", int(sys.argv[1])))
srv.listen(1024)
name = os.environ.get("HOSTNAME", "?")
while True:
    c, a = srv.accept()
    try:
        c.sendall(("%s %s\\n" % (a[0], name)).encode())
    except OSError:
        pass
    c.close()
`;

/**
 * A pod command answering every TCP connection with "<peer address> <pod name>"
 * and closing it: tells endpoints apart and shows whether the source was
 * masqueraded. One in-process accept loop (no fork per connection) keeps it fast
 * on a busy machine.
 */
export function whoServer(port: number): string[] {
  const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  return [python, '-c', WHO_SERVER, String(port)];
}

const WHO_HOLD_SERVER = `
import os, socket, sys, threading
name = os.environ.get("HOSTNAME", "?")
def who(port):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", port))
    srv.listen(1024)
    while True:
        c, a = srv.accept()
        try:
            c.sendall(("%s %s\\n" % (a[0], name)).encode())
        except OSError:
            pass
        c.close()
def echo(c, a):
    try:
        c.sendall(("%s %s\\n" % (a[0], name)).encode())
        while True:
            data = c.recv(4096)
            if not data:
                break
            c.sendall(data)
    except OSError:
        pass
    c.close()
def hold(port):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", port))
    srv.listen(64)
    while True:
        c, a = srv.accept()
        threading.Thread(target=echo, args=(c, a), daemon=True).start()
threading.Thread(target=hold, args=(int(sys.argv[2]),), daemon=True).start()
who(int(sys.argv[1]))
`;

/**
 * {@link whoServer} on `whoPort`, plus on `holdPort` a connection that stays
 * open: it greets with "<peer> <pod>" and then echoes whatever it gets (for
 * "an established connection is never cut" checks).
 */
export function whoHoldServer(whoPort: number, holdPort: number): string[] {
  const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  return [python, '-c', WHO_HOLD_SERVER, String(whoPort), String(holdPort)];
}

const HOLD_CLIENT = `
const net = require('node:net');
const fs = require('node:fs');
const [ip, port, readyFile, stopFile] = process.argv.slice(1);
let greeting = '', buf = '', sent = 0, echoed = 0, error = '';
const s = net.connect({ host: ip, port: Number(port) });
s.setEncoding('utf8');
s.on('data', (d) => {
  buf += d;
  let i;
  while ((i = buf.indexOf('\\n')) >= 0) {
    const line = buf.slice(0, i);
    buf = buf.slice(i + 1);
    if (!greeting) { greeting = line; fs.writeFileSync(readyFile, line.split(' ')[1] || ''); } else echoed++;
  }
});
const finish = () => { process.stdout.write(JSON.stringify({ greeting, sent, echoed, error }) + '\\n'); process.exit(0); };
s.on('error', (e) => { error = e.code || e.message; finish(); });
s.on('close', () => { if (!error) error = 'closed by the other side'; finish(); });
const tick = setInterval(() => {
  if (fs.existsSync(stopFile)) { clearInterval(tick); setTimeout(finish, 500); return; }
  if (greeting) { s.write('ping ' + sent + '\\n'); sent++; }
}, 100);
`;

/** What a held connection saw: the pod that greeted it, lines sent and echoed, and how it ended early (if it did). */
export interface HeldConnection {
  greeting: string;
  sent: number;
  echoed: number;
  error: string;
}

/**
 * One TCP connection from inside `from` to ip:port that stays open, sending a
 * line every 100 ms and counting the echoes, until `files.stop` appears;
 * `files.ready` gets the greeting pod's name once connected.
 */
export async function holdConnection(cluster: Cluster, from: string, ip: string, port: number, files: { ready: string; stop: string }, timeoutMs = 120_000): Promise<HeldConnection> {
  const r = await cluster.exec(from, [process.execPath, '-e', HOLD_CLIENT, ip, String(port), files.ready, files.stop], { timeoutMs });
  return JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as HeldConnection;
}

const UDP_WHO_SERVER = `
import os, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[1])))
name = os.environ.get("HOSTNAME", "?")
while True:
    data, a = s.recvfrom(2048)
    try:
        s.sendto(("%s %s\\n" % (a[0], name)).encode(), a)
    except OSError:
        pass
`;

/** The UDP twin of {@link whoServer}: answers every datagram with "<peer address> <pod name>". */
export function udpWhoServer(port: number): string[] {
  const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  return [python, '-c', UDP_WHO_SERVER, String(port)];
}

/** What a client saw for one request to a "who" pod (`<peer> <pod>`), or why it failed. */
export interface Reply {
  /** Client-side wall clock, ms since the epoch. */
  at: number;
  /** How long the request took, measured by the client (connect to close or error). */
  ms: number;
  ok: boolean;
  /** The source address the pod saw (masqueraded or not). */
  peer: string;
  pod: string;
  error: string;
}

/** Parameters of a service the cases create. */
export interface ServiceParams {
  name: string;
  /** Default TCP {@link SERVICE_PORT} → {@link TARGET_PORT}. */
  protocol?: 'TCP' | 'UDP';
  port?: number;
  targetPort?: number;
  selector: Record<string, string>;
  type?: 'ClusterIP' | 'NodePort' | 'LoadBalancer';
  affinity?: SessionAffinity;
  externalTrafficPolicy?: TrafficPolicy;
  internalTrafficPolicy?: TrafficPolicy;
  namespace?: string;
  /** Must lie inside the state service's --service-external-ip-cidrs. */
  externalIPs?: string[];
  loadBalancerSourceRanges?: string[];
  allocateLoadBalancerNodePorts?: boolean;
  /** Load-balancer ingress IPs given by the client (as an external load-balancer controller would). */
  loadBalancerIngress?: string[];
}

function settle<T>(resolve: (v: T) => void, reject: (e: unknown) => void) {
  return (err: ServiceError | null, res: T): void => (err ? reject(err) : resolve(res));
}

function stateClient(cluster: Cluster, replica = 0) {
  const client = cluster.stateClient(replica);
  if (!client) throw new Error(`no state service in cluster ${cluster.name}: ${cluster.skipped.join('; ')}`);
  return client;
}

/** Creates a service through the State API (ClusterIP and node ports allocated); returns it as stored. */
export async function createService(cluster: Cluster, p: ServiceParams, replica = 0): Promise<Service> {
  const client = stateClient(cluster, replica);
  const port: ServicePort = {
    name: '',
    protocol: p.protocol ?? 'TCP',
    port: p.port ?? SERVICE_PORT,
    targetPort: p.targetPort ?? TARGET_PORT,
    nodePort: 0,
  };
  const svc: Service = {
    metadata: { namespace: p.namespace ?? 'default', name: p.name, uid: '', labels: {}, annotations: {}, resourceVersion: 0 },
    spec: {
      type: p.type ?? 'ClusterIP',
      clusterIP: '',
      clusterIPs: [],
      ipFamilies: [],
      ports: [port],
      selector: p.selector,
      sessionAffinity: p.affinity ?? 'None',
      sessionAffinityTimeoutSeconds: p.affinity === 'ClientIP' ? 600 : 0,
      externalTrafficPolicy: p.externalTrafficPolicy ?? 'Cluster',
      internalTrafficPolicy: p.internalTrafficPolicy ?? 'Cluster',
      externalIPs: p.externalIPs ?? [],
      ...(p.loadBalancerSourceRanges ? { loadBalancerSourceRanges: p.loadBalancerSourceRanges } : {}),
      ...(p.allocateLoadBalancerNodePorts === false ? { allocateLoadBalancerNodePorts: false } : {}),
    },
    ...(p.loadBalancerIngress ? { status: { loadBalancer: { ingress: p.loadBalancerIngress.map((ip) => ({ ip })) } } } : {}),
  };
  const created = await new Promise<v1.Service>((resolve, reject) =>
    client.createService({ service: serviceToProto(svc) }, new Metadata(), { deadline: Date.now() + 10_000 }, settle(resolve, reject)),
  );
  return serviceFromProto(created);
}

export async function deleteService(cluster: Cluster, namespace: string, name: string, replica = 0): Promise<void> {
  const client = stateClient(cluster, replica);
  await new Promise<v1.Service>((resolve, reject) =>
    client.deleteService({ namespace, name }, new Metadata(), { deadline: Date.now() + 10_000 }, settle(resolve, reject)),
  );
}

/** The node port of a NodePort service's only port. */
export function nodePortOf(svc: Service): number {
  const np = svc.spec.ports[0]?.nodePort ?? 0;
  if (!np) throw new Error(`service ${svc.metadata.name} has no node port`);
  return np;
}

/**
 * The client run inside a namespace: sequential TCP connections, one line per
 * request (`<at> <took ms> OK <reply>` or `<at> <took ms> FAIL <code>`). One node process for the
 * whole batch keeps 50 requests well under a second.
 */
const CLIENT = `
const net = require('node:net');
const [ip, port, count, timeoutS, until] = process.argv.slice(1, 6).map((v, i) => (i === 0 ? v : Number(v)));
const readyFile = process.argv[6];
const stopFile = process.argv[7];
const one = () => new Promise((resolve) => {
  const at = Date.now();
  let data = '';
  let done = false;
  const finish = (line) => { if (!done) { done = true; clearTimeout(timer); s.destroy(); resolve(at + ' ' + (Date.now() - at) + ' ' + line); } };
  const s = net.connect({ host: ip, port });
  const timer = setTimeout(() => finish('FAIL ETIMEDOUT'), timeoutS * 1000);
  s.setEncoding('utf8');
  s.on('data', (d) => { data += d; });
  s.on('end', () => finish(data.trim() ? 'OK ' + data.trim().replace(/\\s+/g, ' ') : 'FAIL EMPTY'));
  s.on('error', (e) => finish('FAIL ' + (e.code || e.message)));
});
(async () => {
  const out = [];
  for (let i = 0; i < count; i++) {
    if (until > 0 && Date.now() >= until) break;
    if (stopFile && i % 10 === 0 && require('node:fs').existsSync(stopFile)) break;
    out.push(await one());
    if (i === 0 && readyFile) require('node:fs').writeFileSync(readyFile, String(Date.now()));
  }
  process.stdout.write(out.join('\\n') + '\\n');
})();
`;

/**
 * Sends `count` requests, one TCP connection each, from inside `from` (a pod,
 * node, `ext`…) to ip:port; stops early at wall-clock `untilMs` when given, and
 * with `files`, creates `ready` once the first request is done and stops when
 * `stop` appears (the file system is shared across network namespaces), so a
 * caller can act while traffic flows.
 */
export async function requests(
  cluster: Cluster,
  from: string,
  ip: string,
  port: number,
  count: number,
  timeoutS = 1,
  untilMs = 0,
  files?: { ready: string; stop: string },
): Promise<Reply[]> {
  const args = [ip, String(port), String(count), String(timeoutS), String(untilMs), ...(files ? [files.ready, files.stop] : [])];
  const r = await cluster.exec(from, [process.execPath, '-e', CLIENT, ...args], {
    timeoutMs: untilMs ? untilMs - Date.now() + 30_000 : 30_000 + count * (timeoutS * 1000 + 100),
  });
  return r.stdout
    .split('\n')
    .filter((l) => l.trim().length > 0)
    .map((line) => {
      const [at, ms, st, ...rest] = line.trim().split(/\s+/);
      const ok = st === 'OK' && rest.length >= 2;
      return { at: Number(at), ms: Number(ms), ok, peer: ok ? (rest[0] ?? '') : '', pod: ok ? (rest[1] ?? '') : '', error: ok ? '' : rest.join(' ') };
    });
}

/**
 * One UDP flow: a single socket (so one source port, one 5-tuple, one
 * conntrack entry) sending a datagram every 20 ms from inside `from` until
 * `untilMs` or until `files.stop` appears; writes the first answering pod's
 * name into `files.ready`. Returns every answer with its arrival time.
 */
const UDP_FLOW = `
const dgram = require('node:dgram');
const fs = require('node:fs');
const [ip, portText, untilText, readyFile, stopFile] = process.argv.slice(1);
// At least 300 ms of sending from this process's own start: a slow start under load must not eat the whole window.
const port = Number(portText), until = Math.max(Number(untilText), Date.now() + 300);
const s = dgram.createSocket('udp4');
const out = [];
s.on('message', (m) => {
  const line = m.toString().trim();
  if (readyFile && out.length === 0) fs.writeFileSync(readyFile, line.split(/\\s+/)[1] || '');
  out.push(Date.now() + ' ' + line);
});
s.on('error', () => undefined);
s.bind(0, () => {
  const tick = setInterval(() => {
    if (Date.now() >= until || (stopFile && fs.existsSync(stopFile))) {
      clearInterval(tick);
      setTimeout(() => { process.stdout.write(out.join('\\n') + '\\n'); s.close(); }, 200);
      return;
    }
    s.send('x', port, ip);
  }, 20);
});
`;

export async function udpFlow(
  cluster: Cluster,
  from: string,
  ip: string,
  port: number,
  untilMs: number,
  files?: { ready: string; stop: string },
): Promise<Reply[]> {
  const args = [ip, String(port), String(untilMs), ...(files ? [files.ready, files.stop] : [])];
  const r = await cluster.exec(from, [process.execPath, '-e', UDP_FLOW, ...args], { timeoutMs: untilMs - Date.now() + 30_000 });
  return r.stdout
    .split('\n')
    .filter((l) => l.trim().length > 0)
    .map((line) => {
      const [at, peer, pod] = line.trim().split(/\s+/);
      return { at: Number(at), ms: 0, ok: true, peer: peer ?? '', pod: pod ?? '', error: '' };
    });
}

/** One connection attempt; how long it took (inside the namespace) to fail or succeed, and the error text. */
export async function probeOnce(cluster: Cluster, from: string, ip: string, port: number, timeoutS = 3): Promise<{ ms: number; reply: Reply }> {
  const [reply] = await requests(cluster, from, ip, port, 1, timeoutS);
  if (!reply) throw new Error(`no output from the client in ${from}`);
  return { ms: reply.ms, reply };
}

export async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/** Resolves once `path` exists. */
export async function waitForFile(path: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(path)) {
    if (Date.now() > deadline) throw new Error(`${path} did not appear within ${timeoutMs} ms`);
    await sleep(10);
  }
}

/** Polls `check` until it returns a value (not undefined) or the time is up; then throws with the last state. */
export async function eventually<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`${what}: not true after ${timeoutMs} ms${last ? ` (last error: ${String(last)})` : ''}`);
    }
    await sleep(everyMs);
  }
}

/** Waits until a request from `from` reaches one of `pods` (rules programmed). */
export async function waitReachable(cluster: Cluster, from: string, ip: string, port: number, timeoutMs = 15_000): Promise<void> {
  await eventually(`${from} → ${ip}:${port} answers`, timeoutMs, async () => {
    const [r] = await requests(cluster, from, ip, port, 1, 1);
    return r?.ok ? true : undefined;
  });
}

/** GET on an agent's HTTP endpoint from inside its node namespace: status code and body. */
export async function agentHttp(cluster: Cluster, node: string, path: string, port = 10256): Promise<{ status: number; body: string }> {
  const r = await cluster.exec(node, ['curl', '-s', '-m', '3', '-w', '\n%{http_code}', `http://127.0.0.1:${port}${path}`], { allowFailure: true });
  const lines = r.stdout.trimEnd().split('\n');
  const status = Number(lines.pop() ?? 0);
  return { status, body: lines.join('\n') };
}

const requireHere = createRequire(import.meta.url);

/**
 * Writes raw bytes to keys of the state bucket (a value undefined deletes the
 * key), from inside the control-plane namespace where nats-server listens,
 * bypassing the State API on purpose. One process for every entry.
 */
export async function rawKvPut(
  cluster: Cluster,
  entries: readonly (readonly [string, Uint8Array | undefined])[],
  /** Whose NATS credentials to write with (when the cluster has credentials): the state service's by default. */
  user = 'svcnet-state',
): Promise<void> {
  const transport = requireHere.resolve('@nats-io/transport-node');
  const kvLib = requireHere.resolve('@nats-io/kv');
  const creds = cluster.natsCreds(user);
  const ca = cluster.tlsFiles('nats')?.caFile;
  // Values go through a file: argv cannot carry a large one.
  const entriesFile = join(cluster.state.stateDir, `kv-put-${process.pid}-${Date.now()}.json`);
  writeFileSync(entriesFile, JSON.stringify(entries.map(([key, value]) => [key, value === undefined ? null : Buffer.from(value).toString('base64')])));
  const script = `
    const { connect, credsAuthenticator } = require(${JSON.stringify(transport)});
    const { Kvm } = require(${JSON.stringify(kvLib)});
    const { readFileSync } = require('node:fs');
    (async () => {
      const creds = ${JSON.stringify(creds ?? '')};
      const ca = ${JSON.stringify(ca ?? '')};
      const nc = await connect({ servers: '127.0.0.1:${ControlPlanePorts.nats}', timeout: 5000, ...(ca ? { tls: { caFile: ca } } : {}),
        ...(creds ? { authenticator: credsAuthenticator(readFileSync(creds)), inboxPrefix: '_INBOX_' + ${JSON.stringify(user)} } : {}) });
      const kv = await new Kvm(nc).open('svcnet-state');
      for (const [key, value] of JSON.parse(readFileSync(process.argv[1], 'utf8'))) {
        if (value === null) await kv.delete(key);
        else await kv.put(key, Buffer.from(value, 'base64'));
      }
      await nc.drain();
    })().catch((e) => { console.error(e); process.exit(1); });`;
  try {
    await cluster.exec('cp', [process.execPath, '-e', script, entriesFile], { timeoutMs: 30_000 });
  } finally {
    rmSync(entriesFile, { force: true });
  }
}

/** Distinct pod names among successful replies. */
export function podsSeen(replies: readonly Reply[]): string[] {
  return [...new Set(replies.filter((r) => r.ok).map((r) => r.pod))].sort();
}

/** A compact summary for assertion messages. */
export function summarize(replies: readonly Reply[]): string {
  const ok = replies.filter((r) => r.ok).length;
  const byPod = new Map<string, number>();
  for (const r of replies) if (r.ok) byPod.set(r.pod, (byPod.get(r.pod) ?? 0) + 1);
  const errors = [...new Set(replies.filter((r) => !r.ok).map((r) => r.error))].slice(0, 3);
  return `${ok}/${replies.length} ok; pods ${JSON.stringify(Object.fromEntries(byPod))}; peers ${JSON.stringify([...new Set(replies.map((r) => r.peer))])}${errors.length ? `; errors ${JSON.stringify(errors)}` : ''}`;
}
