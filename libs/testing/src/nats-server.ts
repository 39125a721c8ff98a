import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A real nats-server with JetStream, started for one test file. */
export interface NatsServerHandle {
  readonly url: string;
  readonly port: number;
  readonly storeDir: string;
  readonly pid: number | undefined;
  /** Graceful stop (SIGTERM); keeps the store so restart() resumes it. */
  stop(): Promise<void>;
  /** SIGKILL, as a crash would. */
  kill(): Promise<void>;
  /** Starts again on the same port with the same store. */
  restart(): Promise<void>;
  /** Stops and removes the store directory. */
  cleanup(): Promise<void>;
}

export interface StartNatsOptions {
  port?: number;
  /** Reuse a store directory (default: a new temporary one). */
  storeDir?: string;
  /** Path of the binary (default: `nats-server` from PATH or /usr/sbin). */
  binary?: string;
  /** Extra configuration (e.g. the auth block of `generateNatsAuth`), written to a file passed with `-c`. */
  configText?: string;
  /** Extra command-line arguments (cluster flags…). */
  extraArgs?: string[];
}

/** Finds a free TCP port on loopback. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts TCP connections on host:port. */
export async function waitForPort(port: number, host = '127.0.0.1', timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ port, host });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listening on ${host}:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function writeConfig(storeDir: string, text: string): string {
  const path = join(storeDir, 'svcnet-test.conf');
  writeFileSync(path, text, { mode: 0o600 });
  return path;
}

function binaryPath(explicit?: string): string {
  if (explicit) return explicit;
  return process.env.NATS_SERVER_BIN ?? 'nats-server';
}

/**
 * Starts nats-server with JetStream on a free loopback port and a temporary
 * store. Every test that needs NATS uses this: the real server, never a fake.
 */
export async function startNatsServer(options: StartNatsOptions = {}): Promise<NatsServerHandle> {
  const port = options.port ?? (await freePort());
  const storeDir = options.storeDir ?? mkdtempSync(join(tmpdir(), 'svcnet-nats-'));
  const env = { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/usr/local/sbin` };
  let child: ChildProcess | undefined;
  let stderr = '';

  const start = async (): Promise<void> => {
    stderr = '';
    const config = options.configText !== undefined ? [ '-c', writeConfig(storeDir, options.configText) ] : [];
    child = spawn(binaryPath(options.binary), ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', storeDir, ...config, ...(options.extraArgs ?? [])], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env,
    });
    child.stderr?.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    const exited = new Promise<never>((_, reject) =>
      child?.once('exit', (code) => reject(new Error(`nats-server exited early (${code}): ${stderr.slice(-500)}`))),
    );
    await Promise.race([waitForPort(port), exited]);
    // JetStream is ready shortly after the listener; its log line says so.
    const deadline = Date.now() + 5000;
    while (!stderr.includes('Server is ready') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  };

  const stopWith = async (signal: NodeJS.Signals): Promise<void> => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      c.removeAllListeners('exit');
      c.once('exit', () => resolve());
      c.kill(signal);
    });
  };

  await start();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    get pid() {
      return child?.pid;
    },
    stop: () => stopWith('SIGTERM'),
    kill: () => stopWith('SIGKILL'),
    restart: async () => {
      await stopWith('SIGTERM');
      await start();
    },
    cleanup: async () => {
      await stopWith('SIGTERM');
      if (!options.storeDir) rmSync(storeDir, { recursive: true, force: true });
    },
  };
}

/** A JetStream cluster of nats-servers on loopback, for tests of faults and replicas. */
export interface NatsClusterHandle {
  readonly servers: NatsServerHandle[];
  /** Every client URL, comma-separated (what `--nats-url` takes). */
  readonly url: string;
  cleanup(): Promise<void>;
}

/**
 * Starts `size` nats-servers as one JetStream cluster (routes on loopback), each
 * with its own store; resolves once every server says it is ready. JetStream
 * elects its meta leader a moment later: callers retry their first bucket create.
 */
export async function startNatsCluster(options: { size?: number; configText?: string; name?: string } = {}): Promise<NatsClusterHandle> {
  const size = options.size ?? 3;
  const clusterPorts = await Promise.all(Array.from({ length: size }, () => freePort()));
  const routes = clusterPorts.map((p) => `nats-route://127.0.0.1:${p}`).join(',');
  const name = options.name ?? `svcnet-test-${process.pid}`;
  const servers: NatsServerHandle[] = [];
  try {
    await Promise.all(
      clusterPorts.map(async (cp, i) => {
        servers[i] = await startNatsServer({
          ...(options.configText !== undefined ? { configText: options.configText } : {}),
          extraArgs: ['--cluster_name', name, '--cluster', `nats://127.0.0.1:${cp}`, '--routes', routes, '-n', `${name}-${i}`],
        });
      }),
    );
  } catch (err) {
    await Promise.all(servers.filter(Boolean).map((s) => s.cleanup()));
    throw err;
  }
  return {
    servers,
    url: servers.map((s) => s.url).join(','),
    cleanup: async () => {
      await Promise.all(servers.map((s) => s.cleanup()));
    },
  };
}
