// Helpers for the state e2e tests: spawn the built allocator and state bundles,
// talk to them over real gRPC.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { allocatorv1, FIELD_METADATA_KEY, statev1, v1 } from '@svcnet/api';
import { freePort, startNatsServer, waitForPort, type NatsServerHandle } from '@svcnet/testing';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

function bundleOf(app: string): string {
  const appDir = resolve(root, 'apps', app);
  const bundle = resolve(appDir, 'dist/main.cjs');
  if (!existsSync(bundle)) {
    const r = spawnSync(process.execPath, [resolve(root, 'tools/build/bundle.mjs'), appDir], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error(`${app} build failed`);
  }
  return bundle;
}

type Unary = (req: unknown, md: Metadata, opts: { deadline: Date }, cb: (err: ServiceError | null, res: unknown) => void) => unknown;

function callOf<Res>(client: object, method: string, req: unknown, timeoutMs = 15_000): Promise<Res> {
  const fn = (client as Record<string, Unary>)[method]!.bind(client);
  return new Promise((ok, fail) =>
    fn(req, new Metadata(), { deadline: new Date(Date.now() + timeoutMs) }, (err, res) => (err ? fail(err) : ok(res as Res))),
  );
}

/** A promise-based svcnet.v1.State client. */
export class StateTestClient {
  readonly raw: statev1.StateClient;
  constructor(readonly address: string) {
    this.raw = new statev1.StateClient(address, credentials.createInsecure());
  }
  createService = (s: v1.Service) => callOf<v1.Service>(this.raw, 'createService', { service: s });
  getService = (namespace: string, name: string) => callOf<v1.Service>(this.raw, 'getService', { namespace, name });
  listServices = (r: Partial<statev1.ListObjectsRequest> = {}) =>
    callOf<statev1.ServiceList>(this.raw, 'listServices', statev1.ListObjectsRequest.fromPartial(r));
  listPods = (r: Partial<statev1.ListObjectsRequest> = {}) =>
    callOf<statev1.PodList>(this.raw, 'listPods', statev1.ListObjectsRequest.fromPartial(r));
  updateService = (s: v1.Service) => callOf<v1.Service>(this.raw, 'updateService', { service: s });
  deleteService = (namespace: string, name: string) => callOf<v1.Service>(this.raw, 'deleteService', { namespace, name });
  createPod = (p: v1.Pod) => callOf<v1.Pod>(this.raw, 'createPod', { pod: p });
  updatePod = (p: v1.Pod) => callOf<v1.Pod>(this.raw, 'updatePod', { pod: p });
  getPod = (namespace: string, name: string) => callOf<v1.Pod>(this.raw, 'getPod', { namespace, name });
  deletePod = (namespace: string, name: string) => callOf<v1.Pod>(this.raw, 'deletePod', { namespace, name });
  createEndpoints = (e: v1.Endpoints) => callOf<v1.Endpoints>(this.raw, 'createEndpoints', { endpoints: e });
  getEndpoints = (namespace: string, name: string) => callOf<v1.Endpoints>(this.raw, 'getEndpoints', { namespace, name });
  listEndpoints = (r: Partial<statev1.ListObjectsRequest> = {}) =>
    callOf<statev1.EndpointsList>(this.raw, 'listEndpoints', statev1.ListObjectsRequest.fromPartial(r));
  close(): void {
    this.raw.close();
  }
}

/** A promise-based allocator client (to look behind the state service's back). */
export class AllocatorTestClient {
  readonly raw: allocatorv1.AllocatorClient;
  constructor(readonly address: string) {
    this.raw = new allocatorv1.AllocatorClient(address, credentials.createInsecure());
  }
  list = () => callOf<allocatorv1.ListAllocationsResponse>(this.raw, 'listAllocations', { kind: 0, owner: '' }).then((r) => r.allocations);
  allocateClusterIp = (owner: string) =>
    callOf<allocatorv1.AllocateClusterIPResponse>(this.raw, 'allocateClusterIp', { owner, requestedIp: '', ipFamily: 0 });
  releaseClusterIp = (ip: string, owner: string) => callOf(this.raw, 'releaseClusterIp', { ip, owner });
  getStatus = () => callOf<allocatorv1.GetStatusResponse>(this.raw, 'getStatus', {});
  close(): void {
    this.raw.close();
  }
}

/** One spawned app process. */
export interface AppProcess {
  readonly port: number;
  readonly address: string;
  readonly child: ChildProcess;
  logs(): string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

async function startApp(app: string, args: string[], port: number): Promise<AppProcess> {
  const child = spawn(process.execPath, [bundleOf(app), ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`${app} exited (${code}): ${stderr.slice(-1500)}`))),
  );
  exited.catch(() => undefined);
  await Promise.race([waitForPort(port, '127.0.0.1', 30_000), exited]);
  return {
    port,
    address: `127.0.0.1:${port}`,
    child,
    logs: () => stderr,
    kill: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      await new Promise<void>((r) => {
        child.removeAllListeners('exit');
        child.once('exit', () => r());
        child.kill(signal);
      });
    },
  };
}

export const SERVICE_RANGE = '10.96.0.0/24';
export const NODE_PORTS = '30000-30099';
export const POD_CIDR = '10.244.0.0/16';

/** The real allocator (svcnet-allocator) on a free port. */
export async function startAllocator(natsUrl: string, port?: number, serviceRange = SERVICE_RANGE, extraArgs: readonly string[] = []): Promise<AppProcess> {
  const p = port ?? (await freePort());
  const app = await startApp(
    'allocator',
    ['--listen', `127.0.0.1:${p}`, '--plaintext', '--nats-url', natsUrl, '--service-cluster-ip-range', serviceRange,
      '--service-node-port-range', NODE_PORTS, '--pod-network-cidr', POD_CIDR, '--metrics-bind-address', '127.0.0.1:0', ...extraArgs],
    p,
  );
  // Serving once it answers.
  const c = new AllocatorTestClient(app.address);
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await c.getStatus();
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  } finally {
    c.close();
  }
  return app;
}

/** The state service (svcnet-state) on a free port; resolves once it serves. */
export async function startState(
  params: { natsUrl: string; allocatorUrl: string; repairIntervalMs?: number; extraArgs?: string[] },
): Promise<AppProcess & { metricsPort: number }> {
  const [port, metricsPort] = [await freePort(), await freePort()];
  const app = await startApp(
    'state',
    ['--listen', `127.0.0.1:${port}`, '--plaintext', '--allocator-plaintext', '--nats-url', params.natsUrl, '--allocator-url', params.allocatorUrl,
      '--pod-network-cidr', POD_CIDR, '--repair-interval-ms', String(params.repairIntervalMs ?? 60_000),
      '--allocator-timeout-ms', '2000', '--metrics-bind-address', `127.0.0.1:${metricsPort}`, '-v', '1', ...(params.extraArgs ?? [])],
    port,
  );
  return Object.assign(app, { metricsPort });
}

/**
 * A real nats-server, allocator and state service with a client for each: the
 * set-up both state e2e files share. A failed start stops what already runs.
 * `restartAllocator` (kill -9 tests) replaces `allocator` and `alloc` in place.
 */
export class StateStack {
  private constructor(
    readonly nats: NatsServerHandle,
    public allocator: AppProcess,
    readonly state: AppProcess & { metricsPort: number },
    readonly client: StateTestClient,
    public alloc: AllocatorTestClient,
  ) {}

  static async start(opts: { repairIntervalMs?: number; extraArgs?: string[]; serviceRange?: string; allocatorArgs?: string[] } = {}): Promise<StateStack> {
    const nats = await startNatsServer();
    let allocator: AppProcess | undefined;
    try {
      allocator = await startAllocator(nats.url, undefined, opts.serviceRange, opts.allocatorArgs);
      const state = await startState({
        natsUrl: nats.url,
        allocatorUrl: allocator.address,
        ...(opts.repairIntervalMs ? { repairIntervalMs: opts.repairIntervalMs } : {}),
        ...(opts.extraArgs ? { extraArgs: opts.extraArgs } : {}),
      });
      return new StateStack(nats, allocator, state, new StateTestClient(state.address), new AllocatorTestClient(allocator.address));
    } catch (err) {
      await allocator?.kill();
      await nats.cleanup();
      throw err;
    }
  }

  /** Starts the allocator again on its port (after a kill) and reconnects `alloc`. */
  async restartAllocator(): Promise<void> {
    await this.allocator.kill();
    this.allocator = await startAllocator(this.nats.url, this.allocator.port);
    this.alloc.close();
    this.alloc = new AllocatorTestClient(this.allocator.address);
  }

  async stop(): Promise<void> {
    this.client.close();
    this.alloc.close();
    await this.state.kill();
    await this.allocator.kill();
    await this.nats.cleanup();
  }
}

/** GET a path of a service's HTTP listener: status and body. */
export async function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.text() };
}

/** The value of one sample in Prometheus text (labels exactly as exposed), or undefined. */
export function metricValue(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

export { grpcError } from '@svcnet/testing';

export function fieldOf(err: ServiceError): string | undefined {
  const v = err.metadata?.get(FIELD_METADATA_KEY)[0];
  return v === undefined ? undefined : String(v);
}

export async function eventually<T>(fn: () => Promise<T>, check: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (check(v)) return v;
    if (Date.now() > deadline) throw new Error(`condition not met in ${timeoutMs} ms; last value: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Wire builders with Kubernetes-like defaults. */
export function wireService(over: {
  name: string;
  namespace?: string;
  type?: 'ClusterIP' | 'NodePort' | 'LoadBalancer';
  clusterIp?: string;
  ports?: { name?: string; port: number; targetPort?: number | string; nodePort?: number; protocol?: v1.Protocol }[];
  selector?: Record<string, string>;
  labels?: Record<string, string>;
  externalTrafficPolicy?: 'Cluster' | 'Local';
  allocateLoadBalancerNodePorts?: boolean;
  ingress?: string[];
}): v1.Service {
  const types = { ClusterIP: v1.ServiceType.SERVICE_TYPE_CLUSTER_IP, NodePort: v1.ServiceType.SERVICE_TYPE_NODE_PORT, LoadBalancer: v1.ServiceType.SERVICE_TYPE_LOAD_BALANCER };
  return v1.Service.fromPartial({
    metadata: { namespace: over.namespace ?? 'default', name: over.name, labels: over.labels ?? {} },
    ...(over.ingress ? { status: { loadBalancer: { ingress: over.ingress.map((ip) => ({ ip, hostname: '' })) } } } : {}),
    spec: {
      type: types[over.type ?? 'ClusterIP'],
      externalTrafficPolicy: over.externalTrafficPolicy === 'Local' ? v1.TrafficPolicy.TRAFFIC_POLICY_LOCAL : v1.TrafficPolicy.TRAFFIC_POLICY_CLUSTER,
      ...(over.allocateLoadBalancerNodePorts === undefined ? {} : { allocateLoadBalancerNodePorts: over.allocateLoadBalancerNodePorts }),
      clusterIp: over.clusterIp ?? '',
      selector: over.selector ?? {},
      ports: (over.ports ?? [{ port: 80 }]).map((p) => ({
        name: p.name ?? '',
        port: p.port,
        protocol: p.protocol ?? v1.Protocol.PROTOCOL_TCP,
        nodePort: p.nodePort ?? 0,
        ...(p.targetPort === undefined
          ? {}
          : { targetPort: typeof p.targetPort === 'number' ? { value: { $case: 'intValue' as const, value: p.targetPort } } : { value: { $case: 'strValue' as const, value: p.targetPort } } }),
      })),
    },
  });
}

export function wirePod(over: { name: string; ip: string; labels?: Record<string, string>; ready?: boolean; namespace?: string; ports?: { name: string; port: number }[] }): v1.Pod {
  return v1.Pod.fromPartial({
    metadata: { namespace: over.namespace ?? 'default', name: over.name, labels: over.labels ?? {} },
    nodeName: 'node1',
    ip: over.ip,
    ready: over.ready ?? true,
    containerPorts: (over.ports ?? [{ name: 'http', port: 8080 }]).map((p) => ({ name: p.name, containerPort: p.port, protocol: v1.Protocol.PROTOCOL_TCP })),
  });
}
