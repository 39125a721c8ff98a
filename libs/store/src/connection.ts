import { readFileSync } from 'node:fs';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { errors, nanos } from '@nats-io/nats-core';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm, type KV, type KvOptions } from '@nats-io/kv';
import { coalesceWrites } from './write-coalescing.js';

/** TLS towards NATS (server verification, and a client certificate where the user is bound to one). */
export interface NatsTlsOptions {
  /** CA bundle that signed the servers' certificates. */
  caFile?: string;
  certFile?: string;
  keyFile?: string;
}

/** Where a connection reports what NATS refused (a pino logger fits). */
export interface StoreLogger {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** How to reach NATS. */
export interface StoreConnectOptions {
  /** One URL or a comma-separated list (a NATS cluster). */
  url: string;
  /** Client name shown by the server (`svcnet-allocator`, `svcnet-agent node1`…). */
  name: string;
  /** Keep reconnecting forever (services) or give up (CLI/tests). Default: forever. */
  reconnectForever?: boolean;
  /** Send everything queued in one event-loop turn in one write (see coalesceWrites). Default true. */
  coalesceWrites?: boolean;
  /** Deadline of each KV/JetStream request while connected (ms). Default 5000. */
  requestTimeoutMs?: number;
  /** A NATS credentials file (user JWT + nkey seed), as `nats --creds` takes it. */
  credsFile?: string;
  tls?: NatsTlsOptions;
  /** Permission refusals and connection errors are reported here, naming the user and subject. */
  logger?: StoreLogger;
}

/** Default {@link StoreConnectOptions.requestTimeoutMs}. */
export const DEFAULT_STORE_TIMEOUT_MS = 5_000;

/** A setting that cannot work (unreadable credentials, a bucket with another replica count…): fix it and start again. */
export class StoreConfigError extends Error {
  override readonly name = 'StoreConfigError';
  /** The flag or setting at fault (`--nats-creds`, `--kv-replicas`…). */
  readonly setting: string;
  constructor(setting: string, message: string, options?: { cause?: unknown }) {
    super(`${setting}: ${message}`, options);
    this.setting = setting;
  }
}

/** Who a credentials file says we are, and the reply subjects that user may receive. */
export interface CredentialsIdentity {
  user: string;
  /** `_INBOX_…` when the user may only subscribe to its own inbox. */
  inboxPrefix: string | undefined;
}

/** Reads the user JWT of a `.creds` file (no signature check: the server does that). */
export function credentialsIdentity(creds: string): CredentialsIdentity {
  const jwt = /-----BEGIN NATS USER JWT-----\s*([A-Za-z0-9_\-.]+)\s*------END NATS USER JWT------/.exec(creds)?.[1];
  if (!jwt || !/-----BEGIN USER NKEY SEED-----\s*SU[A-Z0-9]+\s*------END USER NKEY SEED------/.test(creds)) {
    throw new Error('not a NATS credentials file (a user JWT and a user nkey seed were expected)');
  }
  const claims = JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
    name?: string;
    sub?: string;
    nats?: { sub?: { allow?: string[] } };
  };
  const inbox = claims.nats?.sub?.allow?.map((s) => /^(_INBOX[A-Za-z0-9_-]*)\.>$/.exec(s)?.[1]).find(Boolean);
  return { user: claims.name ?? claims.sub ?? 'unknown', inboxPrefix: inbox };
}

function readSetting(setting: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new StoreConfigError(setting, `cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** An open NATS connection plus the KV manager on top of it. */
export interface StoreConnection {
  readonly nc: NatsConnection;
  readonly kvm: Kvm;
  /**
   * False from a disconnect until the reconnect: requests made meanwhile would
   * only wait for their deadline, so stores refuse them at once (UNAVAILABLE).
   */
  readonly connected: boolean;
  /** The servers this connection was given. */
  readonly servers: readonly string[];
  /** The NATS user (from the credentials), if any. */
  readonly user: string | undefined;
  /**
   * Opens a KV bucket, creating it with `replicas` copies (default 1) when it
   * does not exist. A bucket that exists with another replica count is refused
   * (StoreConfigError), never silently used or recreated.
   */
  bucket(name: string, options?: Partial<KvOptions>): Promise<KV>;
  close(): Promise<void>;
}

/**
 * Connects to NATS. Services reconnect forever so that a NATS restart is a
 * pause, not a crash; their requests fail with UNAVAILABLE meanwhile. Refused
 * credentials end the first connect with a StoreConfigError naming the user;
 * later permission refusals are logged with the user and the subject.
 */
export async function connectStore(options: StoreConnectOptions): Promise<StoreConnection> {
  const servers = options.url.split(',').map((s) => s.trim()).filter(Boolean);
  const forever = options.reconnectForever ?? true;
  let identity: CredentialsIdentity | undefined;
  let creds: Uint8Array | undefined;
  if (options.credsFile) {
    const text = readSetting('--nats-creds', options.credsFile);
    try {
      identity = credentialsIdentity(text);
    } catch (err) {
      throw new StoreConfigError('--nats-creds', `${options.credsFile}: ${(err as Error).message}`, { cause: err });
    }
    creds = new TextEncoder().encode(text);
  }
  const tls = options.tls
    ? {
        ...(options.tls.caFile ? { caFile: options.tls.caFile } : {}),
        ...(options.tls.certFile ? { certFile: options.tls.certFile } : {}),
        ...(options.tls.keyFile ? { keyFile: options.tls.keyFile } : {}),
      }
    : undefined;
  for (const [setting, path] of [
    ['--nats-ca', tls?.caFile],
    ['--nats-cert', tls?.certFile],
    ['--nats-key', tls?.keyFile],
  ] as const) {
    if (path) readSetting(setting, path);
  }
  const who = identity ? `user "${identity.user}" (${options.credsFile})` : 'no credentials';
  let nc: NatsConnection;
  try {
    nc = await connectFirst({
      servers,
      name: options.name,
      maxReconnectAttempts: forever ? -1 : 10,
      reconnectTimeWait: 250,
      waitOnFirstConnect: forever,
      pingInterval: 5_000,
      // nats.js otherwise builds an Error per request (to keep the caller's stack
      // for a later timeout); at thousands of KV writes a second that stack
      // capture was ~12% of the allocator's CPU. Errors keep their messages.
      noAsyncTraces: true,
      ...(creds ? { authenticator: credsAuthenticator(creds) } : {}),
      ...(identity?.inboxPrefix ? { inboxPrefix: identity.inboxPrefix } : {}),
      ...(tls ? { tls } : {}),
    });
  } catch (err) {
    if (err instanceof errors.AuthorizationError || /authoriz|authentica/i.test((err as Error).message)) {
      throw new StoreConfigError('--nats-creds', `NATS at ${servers.join(',')} refused ${who}: ${(err as Error).message}`, { cause: err });
    }
    throw err;
  }
  if (options.coalesceWrites ?? true) coalesceWrites(nc);
  const kvm = new Kvm(jetstream(nc, { timeout: options.requestTimeoutMs ?? DEFAULT_STORE_TIMEOUT_MS }));
  let connected = true;
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') connected = false;
      else if (s.type === 'reconnect') connected = true;
      else if (s.type === 'error') {
        const e = s.error;
        if (e instanceof errors.PermissionViolationError) {
          options.logger?.error(
            { user: identity?.user, operation: e.operation, subject: e.subject },
            `NATS refused ${who} to ${e.operation === 'publish' ? 'publish to' : 'subscribe to'} ${e.subject}`,
          );
        } else {
          options.logger?.warn({ user: identity?.user, err: e }, 'NATS connection error');
        }
      }
    }
  })().catch(() => undefined);
  return {
    nc,
    kvm,
    servers,
    user: identity?.user,
    get connected() {
      return connected && !nc.isClosed();
    },
    bucket: (name, bucketOptions) => openBucket(kvm, nc, name, bucketOptions),
    close: async () => {
      if (!nc.isClosed()) await nc.drain().catch(() => nc.close());
    },
  };
}

type ConnectOptions = Parameters<typeof connect>[0];

/**
 * The first connect. With waitOnFirstConnect nats.js retries whatever goes
 * wrong, refused credentials included; those never get better, so they end the
 * attempt here with the server's reason.
 */
async function connectFirst(opts: ConnectOptions): Promise<NatsConnection> {
  if (!opts?.waitOnFirstConnect) return connect(opts);
  const attempt = connect({ ...opts, waitOnFirstConnect: false, maxReconnectAttempts: 0 }).then(
    (nc) => ({ nc }),
    (err: unknown) => ({ err }),
  );
  const first = await attempt;
  if ('nc' in first) {
    await first.nc.close();
  } else if (first.err instanceof errors.AuthorizationError || /authoriz|authentica/i.test(String((first.err as Error)?.message))) {
    throw first.err;
  }
  return connect(opts);
}

async function openBucket(kvm: Kvm, nc: NatsConnection, name: string, options: Partial<KvOptions> = {}): Promise<KV> {
  const replicas = options.replicas ?? 1;
  let existing: { replicas: number } | undefined;
  try {
    const kv = await kvm.open(name);
    const status = await kv.status();
    existing = { replicas: status.replicas };
  } catch (err) {
    if (!/stream not found|not found/i.test((err as Error).message)) throw err;
  }
  if (existing && existing.replicas !== replicas) {
    throw new StoreConfigError(
      '--kv-replicas',
      `bucket ${name} exists with ${existing.replicas} replica(s) but ${replicas} were asked for; ` +
        `start with --kv-replicas ${existing.replicas}, or change the bucket first (nats stream edit KV_${name} --replicas ${replicas})`,
    );
  }
  if (existing) await reconcileBucket(nc, name, options);
  // Reads go through the stream leader: with direct gets any replica answers, and a replica that is
  // behind (nats-server 2.9 can leave one behind after a crash) would serve stale objects.
  return kvm.create(name, { history: 1, allow_direct: false, ...options, replicas });
}

/**
 * The settings a newer version may add to a bucket that already exists
 * (republishing, a record age limit) are applied to its stream in place; the
 * data stays. The replica count is never changed here (see above).
 */
async function reconcileBucket(nc: NatsConnection, name: string, options: Partial<KvOptions>): Promise<void> {
  if (options.republish === undefined && options.ttl === undefined) return;
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(`KV_${name}`);
  const config = { ...info.config };
  let changed = false;
  if (options.republish && (config.republish?.src !== options.republish.src || config.republish?.dest !== options.republish.dest)) {
    config.republish = { ...options.republish };
    changed = true;
  }
  if (options.ttl !== undefined && config.max_age !== nanos(options.ttl)) {
    config.max_age = nanos(options.ttl);
    changed = true;
  }
  if (!changed) return;
  await jsm.streams.update(config.name, config).catch((err: unknown) => {
    // nats-server 2.9 cannot add republishing to an existing stream (2.10 can). Readers of the
    // change feed notice the missing setting and use a consumer of their own instead.
    if (!/can not change RePublish/i.test((err as Error).message)) throw err;
  });
}
