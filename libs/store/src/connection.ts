import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { Kvm, type KV, type KvOptions } from '@nats-io/kv';
import { coalesceWrites } from './write-coalescing.js';

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
}

/** Default {@link StoreConnectOptions.requestTimeoutMs}. */
export const DEFAULT_STORE_TIMEOUT_MS = 5_000;

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
  /** Opens (creating if needed) a KV bucket. */
  bucket(name: string, options?: Partial<KvOptions>): Promise<KV>;
  close(): Promise<void>;
}

/**
 * Connects to NATS. Services reconnect forever so that a NATS restart is a
 * pause, not a crash; their requests fail with UNAVAILABLE meanwhile.
 */
export async function connectStore(options: StoreConnectOptions): Promise<StoreConnection> {
  const servers = options.url.split(',').map((s) => s.trim()).filter(Boolean);
  const forever = options.reconnectForever ?? true;
  const nc = await connect({
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
  });
  if (options.coalesceWrites ?? true) coalesceWrites(nc);
  const kvm = new Kvm(jetstream(nc, { timeout: options.requestTimeoutMs ?? DEFAULT_STORE_TIMEOUT_MS }));
  let connected = true;
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') connected = false;
      else if (s.type === 'reconnect') connected = true;
    }
  })().catch(() => undefined);
  return {
    nc,
    kvm,
    servers,
    get connected() {
      return connected && !nc.isClosed();
    },
    bucket: (name, bucketOptions) => kvm.create(name, { history: 1, ...bucketOptions }),
    close: async () => {
      if (!nc.isClosed()) await nc.drain().catch(() => nc.close());
    },
  };
}
