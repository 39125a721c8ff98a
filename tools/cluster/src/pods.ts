import { removePodResolvConf, writePodResolvConf } from './dns.js';
import { addPodNetwork } from './network.js';
import { stopRecorded } from './processes.js';
import { registerPod, setPodReadiness, unregisterPod } from './state-client.js';
import type { ClusterState, PodRecord, ProcessRecord } from './state-file.js';
import type { NetnsLab } from '@svcnet/testing';
import type { statev1 } from '@svcnet/api';
import { nextPodIp, podNs, validPodName } from './topology.js';

/** What pods need from the cluster that holds them (Cluster implements it). */
export interface PodHost {
  readonly state: ClusterState;
  readonly lab: NetnsLab;
  save(): void;
  startProcess(component: string, ns: string, argv: string[], env?: Record<string, string>): ProcessRecord;
  waitListening(rec: ProcessRecord, port: number, timeoutMs?: number): Promise<void>;
  stateClient(replica?: number): statev1.StateClient | undefined;
  pod(name: string): PodRecord;
}

/** A container port of a pod, as `--port name:port/proto` gives it. */
export interface PodPort {
  name?: string;
  port: number;
  protocol?: 'TCP' | 'UDP' | 'SCTP';
}

/** Options of `cluster.addPod`. */
export interface AddPodOptions {
  name: string;
  /** Node name (`node1`) or index (1). */
  node: string | number;
  /** Kubernetes-style namespace the pod is registered in (default `default`). */
  namespace?: string;
  labels?: Record<string, string>;
  ports?: PodPort[];
  /** Default true; `--not-ready` registers the pod as not ready. */
  ready?: boolean;
  /** Program and arguments run inside the pod (empty: nothing runs). */
  command: string[];
  env?: Record<string, string>;
  /** Wait until every TCP port listens before registering (default true). */
  waitForPorts?: boolean;
}

/** Parses `8080`, `http:8080`, `dns:53/UDP` (protocol case-insensitive). */
export function parsePortSpec(spec: string): PodPort {
  const m = /^(?:([a-z0-9-]{1,15}):)?(\d{1,5})(?:\/(tcp|udp|sctp))?$/i.exec(spec.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 1 || port > 65535) throw new Error(`bad --port ${JSON.stringify(spec)}: use [name:]port[/TCP|UDP|SCTP]`);
  const protocol = (m[3]?.toUpperCase() ?? 'TCP') as PodPort['protocol'];
  return { ...(m[1] ? { name: m[1] } : {}), port, ...(protocol ? { protocol } : {}) };
}

/** Parses `k=v,k2=v2`. */
export function parseLabels(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new Error(`bad label ${JSON.stringify(part)}: use key=value`);
    out[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return out;
}

export async function addPod(cluster: PodHost, opts: AddPodOptions): Promise<PodRecord> {
  const { state } = cluster;
  if (!validPodName(opts.name)) throw new Error(`pod name ${JSON.stringify(opts.name)} is not a DNS-1123 label of ≤ 40 characters`);
  if (state.pods.some((p) => p.name === opts.name)) throw new Error(`pod ${opts.name} exists`);
  const node = state.plan.nodes.find((n) => n.name === opts.node || n.index === opts.node || n.name === `node${String(opts.node)}`);
  if (!node) throw new Error(`no node ${String(opts.node)} (nodes: ${state.plan.nodes.map((n) => n.name).join(', ')})`);
  const ip = nextPodIp(
    node,
    state.pods.filter((p) => p.node === node.name).map((p) => p.ip),
  );
  const pod: PodRecord = {
    name: opts.name,
    namespace: opts.namespace ?? 'default',
    node: node.name,
    ns: podNs(state.name, opts.name),
    ip,
    hostVeth: `vp${state.nextVethId}`,
    labels: { ...opts.labels },
    ports: (opts.ports ?? []).map((p) => ({ name: p.name ?? '', port: p.port, protocol: p.protocol ?? 'TCP' })),
    ready: opts.ready ?? true,
    registered: false,
    command: [...opts.command],
  };
  // Record first: a crash from here on still leaves `down` a trail to follow.
  state.nextVethId += 1;
  state.pods.push(pod);
  cluster.save();
  await addPodNetwork(cluster.lab, { node, ns: pod.ns, hostVeth: pod.hostVeth, ip });
  // Before the command starts: `ip netns exec` mounts it over /etc/resolv.conf at exec time.
  if (state.dns) writePodResolvConf({ cluster: state.name, ns: pod.ns, namespace: pod.namespace, nameserver: state.dns.clusterIP });
  if (pod.command.length > 0) {
    const rec = cluster.startProcess(`pod-${pod.name}`, pod.ns, pod.command, {
      HOSTNAME: pod.name,
      POD_NAME: pod.name,
      POD_NAMESPACE: pod.namespace,
      POD_IP: pod.ip,
      NODE_NAME: node.name,
      ...opts.env,
    });
    if (opts.waitForPorts ?? true) {
      for (const p of pod.ports.filter((x) => x.protocol === 'TCP')) await cluster.waitListening(rec, p.port, 15_000);
    }
  }
  const client = cluster.stateClient();
  if (client) {
    await registerPod(client, pod);
    pod.registered = true;
  }
  cluster.save();
  return pod;
}

export async function deletePod(cluster: PodHost, name: string): Promise<void> {
  const pod = cluster.pod(name);
  const client = cluster.stateClient();
  if (client && pod.registered) await unregisterPod(client, pod);
  await stopRecorded(cluster.state.processes.filter((p) => p.component === `pod-${name}`));
  await cluster.lab.deleteNamespace(pod.ns);
  removePodResolvConf(cluster.state.name, pod.ns);
  cluster.state.processes = cluster.state.processes.filter((p) => p.component !== `pod-${name}`);
  cluster.state.pods = cluster.state.pods.filter((p) => p.name !== name);
  cluster.save();
}

export async function setPodReady(cluster: PodHost, name: string, ready: boolean, replica = 0): Promise<void> {
  const pod = cluster.pod(name);
  const client = cluster.stateClient(replica);
  if (!client || !pod.registered) throw new Error(`pod ${name} is not registered (no state service running)`);
  await setPodReadiness(client, pod, ready);
  pod.ready = ready;
  cluster.save();
}

/** Pod commands the tests and the demo use. */
export const PodCommands = {
  /** TCP echo: sends back what it receives. */
  tcpEcho: (port: number): string[] => ['socat', `TCP-LISTEN:${port},fork,reuseaddr`, 'EXEC:cat'],
  /** TCP "who": answers `<peer address> <pod name>` and closes (tells endpoints apart, shows the client IP). */
  tcpWho: (port: number): string[] => ['socat', `TCP-LISTEN:${port},fork,reuseaddr`, 'SYSTEM:echo $SOCAT_PEERADDR $HOSTNAME'],
  /** UDP "who": answers each datagram with `<peer address> <pod name>`. */
  udpWho: (port: number): string[] => ['socat', `UDP-RECVFROM:${port},fork,reuseaddr`, 'SYSTEM:echo $SOCAT_PEERADDR $HOSTNAME'],
  /** HTTP server answering every GET with `<pod name> <client ip>\n`. */
  httpWho: (port: number): string[] => ['python3', '-c', HTTP_WHO, String(port)],
  /** A redis-server without persistence (for the demo). */
  redis: (port = 6379): string[] => ['redis-server', '--port', String(port), '--bind', '0.0.0.0', '--protected-mode', 'no', '--save', '', '--appendonly', 'no'],
} as const;

const HTTP_WHO = `
import http.server, os, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("%s %s\\n" % (os.environ.get("HOSTNAME", "?"), self.client_address[0])).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("0.0.0.0", int(sys.argv[1])), H).serve_forever()
`;
