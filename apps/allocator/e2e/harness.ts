// Helpers for the allocator e2e tests: spawn the built bundle, talk to it over real gRPC.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { credentials, makeGenericClientConstructor, Metadata, type ServiceError } from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { allocatorv1 } from '@svcnet/api';
import { freePort, waitForPort } from '@svcnet/testing';

const appDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const bundle = resolve(appDir, 'dist/main.cjs');

/** Builds the bundle when the test command has not (running one file by hand). */
export function ensureBuilt(): void {
  if (existsSync(bundle)) return;
  const r = spawnSync(process.execPath, [resolve(appDir, '../../tools/build/bundle.mjs'), appDir], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error('allocator build failed');
}

/** A promise-based client over the generated AllocatorClient. */
export class AllocatorTestClient {
  readonly raw: allocatorv1.AllocatorClient;
  constructor(readonly address: string) {
    this.raw = new allocatorv1.AllocatorClient(address, credentials.createInsecure());
  }
  private call<Req, Res>(method: string, req: Req, timeoutMs = 30_000): Promise<Res> {
    const deadline = new Date(Date.now() + timeoutMs);
    return new Promise((resolvePromise, reject) => {
      const fn = (this.raw as unknown as Record<string, (...a: unknown[]) => unknown>)[method]!.bind(this.raw);
      fn(req, new Metadata(), { deadline }, (err: ServiceError | null, res: Res) => (err ? reject(err) : resolvePromise(res)));
    });
  }
  allocateClusterIp(req: Partial<allocatorv1.AllocateClusterIPRequest>, timeoutMs?: number) {
    return this.call<allocatorv1.AllocateClusterIPRequest, allocatorv1.AllocateClusterIPResponse>(
      'allocateClusterIp',
      allocatorv1.AllocateClusterIPRequest.fromPartial(req),
      timeoutMs,
    );
  }
  releaseClusterIp(req: Partial<allocatorv1.ReleaseClusterIPRequest>) {
    return this.call<allocatorv1.ReleaseClusterIPRequest, allocatorv1.ReleaseClusterIPResponse>(
      'releaseClusterIp',
      allocatorv1.ReleaseClusterIPRequest.fromPartial(req),
    );
  }
  allocateNodePort(req: Partial<allocatorv1.AllocateNodePortRequest>) {
    return this.call<allocatorv1.AllocateNodePortRequest, allocatorv1.AllocateNodePortResponse>(
      'allocateNodePort',
      allocatorv1.AllocateNodePortRequest.fromPartial(req),
    );
  }
  releaseNodePort(req: Partial<allocatorv1.ReleaseNodePortRequest>) {
    return this.call<allocatorv1.ReleaseNodePortRequest, allocatorv1.ReleaseNodePortResponse>(
      'releaseNodePort',
      allocatorv1.ReleaseNodePortRequest.fromPartial(req),
    );
  }
  getStatus() {
    return this.call<allocatorv1.GetStatusRequest, allocatorv1.GetStatusResponse>('getStatus', {});
  }
  listAllocations(req: Partial<allocatorv1.ListAllocationsRequest> = {}) {
    return this.call<allocatorv1.ListAllocationsRequest, allocatorv1.ListAllocationsResponse>(
      'listAllocations',
      allocatorv1.ListAllocationsRequest.fromPartial(req),
    );
  }
  close(): void {
    this.raw.close();
  }
}

/** One allocator process. */
export interface AllocatorProcess {
  readonly port: number;
  /** Where /metrics, /healthz and /livez answer. */
  readonly metricsPort: number;
  readonly client: AllocatorTestClient;
  readonly child: ChildProcess;
  /** Everything it wrote on stderr so far (JSON logs). */
  logs(): string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts `node dist/main.cjs` against NATS and resolves once it answers GetStatus. */
export async function startAllocator(params: { natsUrl: string; args?: string[]; port?: number }): Promise<AllocatorProcess> {
  ensureBuilt();
  const port = params.port ?? (await freePort());
  const metricsPort = await freePort();
  const child = spawn(
    process.execPath,
    [bundle, '--listen', `127.0.0.1:${port}`, '--plaintext', '--nats-url', params.natsUrl, '--metrics-bind-address', `127.0.0.1:${metricsPort}`, ...(params.args ?? [])],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`allocator exited (${code}): ${stderr.slice(-1000)}`))),
  );
  exited.catch(() => undefined);
  await Promise.race([waitForPort(port, '127.0.0.1', 30_000), exited]);
  const client = new AllocatorTestClient(`127.0.0.1:${port}`);
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await Promise.race([client.getStatus(), exited]);
      break;
    } catch (err) {
      if (Date.now() > deadline || child.exitCode !== null) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    port,
    metricsPort,
    client,
    child,
    logs: () => stderr,
    kill: async (signal: NodeJS.Signals = 'SIGTERM') => {
      client.close();
      if (child.exitCode !== null || child.signalCode !== null) return;
      await new Promise<void>((r) => {
        child.removeAllListeners('exit');
        child.once('exit', () => r());
        child.kill(signal);
      });
    },
  };
}

/** Runs the allocator expecting it to refuse to start; returns exit code and stderr. */
export async function runAllocatorToExit(args: string[]): Promise<{ code: number | null; stderr: string }> {
  ensureBuilt();
  const child = spawn(process.execPath, [bundle, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  clearTimeout(timer);
  return { code, stderr };
}

/** grpc.health.v1 Check for one service: 'SERVING', 'NOT_SERVING', … */
export async function healthStatus(address: string, serviceName: string): Promise<string> {
  const Client = makeGenericClientConstructor(healthService, 'grpc.health.v1.Health');
  const client = new Client(address, credentials.createInsecure()) as unknown as {
    check(req: { service: string }, opts: { deadline: Date }, cb: (err: ServiceError | null, res: { status: string | number }) => void): void;
    close(): void;
  };
  try {
    return await new Promise((resolvePromise, reject) =>
      client.check({ service: serviceName }, { deadline: new Date(Date.now() + 5000) }, (err, res) =>
        err ? reject(err) : resolvePromise(String(res.status)),
      ),
    );
  } finally {
    client.close();
  }
}

/** Awaits a call expected to fail; returns the gRPC error. */
export async function grpcError(p: Promise<unknown>): Promise<ServiceError> {
  try {
    await p;
  } catch (err) {
    return err as ServiceError;
  }
  throw new Error('expected the call to fail');
}

/** GET a path of an allocator's HTTP listener: status and body. */
export async function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.text() };
}

/** The value of one sample in Prometheus text format (labels as written, e.g. `{cidr="10.0.0.0/24"}`), or undefined. */
export function metricValue(text: string, name: string, labels = ''): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    const series = line.slice(0, space);
    if (series === `${name}${labels}`) return Number(line.slice(space + 1));
  }
  return undefined;
}
