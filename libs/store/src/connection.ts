import { connect, type NatsConnection } from '@nats-io/transport-node';
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
}

/** An open NATS connection plus the KV manager on top of it. */
export interface StoreConnection {
  readonly nc: NatsConnection;
  readonly kvm: Kvm;
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
  const kvm = new Kvm(nc);
  return {
    nc,
    kvm,
    bucket: (name, bucketOptions) => kvm.create(name, { history: 1, ...bucketOptions }),
    close: async () => {
      if (!nc.isClosed()) await nc.drain().catch(() => nc.close());
    },
  };
}
