import type { NatsConnection } from '@nats-io/transport-node';

const coalesced = Symbol('svcnet.coalescedWrites');

/** The one piece of nats.js internals this touches (nats-core 3.3.x ProtocolHandler). */
interface FlushingProtocol {
  flushPending(): void;
  [coalesced]?: true;
}

function protocolOf(nc: NatsConnection): FlushingProtocol | undefined {
  const protocol = (nc as unknown as { protocol?: Partial<FlushingProtocol> }).protocol;
  return protocol && typeof protocol.flushPending === 'function' ? (protocol as FlushingProtocol) : undefined;
}

/**
 * Makes nats.js write its outbound buffer once per event-loop turn instead of
 * once per microtask checkpoint.
 *
 * nats.js flushes in a microtask queued by the first command after a flush.
 * A server handles each incoming gRPC call in its own native callback, and
 * Node drains microtasks after every one, so each call's KV write went out in
 * its own write(2) — a loopback TCP send per allocation, ~20% of the
 * allocator's busy time at 2,400 allocations/s, and as many reads for
 * nats-server. Deferring the flush to setImmediate sends every command queued
 * during one poll phase together; it adds at most the rest of the current
 * loop turn to a write. Returns false (and changes nothing) when the client's
 * internals do not have the expected shape, e.g. after an upgrade — a test
 * pins that. Calling it twice is harmless.
 */
export function coalesceWrites(nc: NatsConnection): boolean {
  const protocol = protocolOf(nc);
  if (!protocol) return false;
  if (protocol[coalesced]) return true;
  protocol[coalesced] = true;
  const flushNow = protocol.flushPending.bind(protocol);
  let scheduled = false;
  protocol.flushPending = () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      flushNow();
    });
  };
  return true;
}
