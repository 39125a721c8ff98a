import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { startNatsServer, type NatsServerHandle } from '@svcnet/testing';
import { connectStore, type StoreConnection } from './connection.js';
import { coalesceWrites } from './write-coalescing.js';

/** Counts the transport writes of a connection (test-only reach into nats.js internals). */
function countWrites(nc: NatsConnection): { count: () => number } {
  const transport = (nc as unknown as { protocol: { transport: { send(frame: Uint8Array): void } } }).protocol.transport;
  const send = transport.send.bind(transport);
  let writes = 0;
  transport.send = (frame: Uint8Array) => {
    writes++;
    send(frame);
  };
  return { count: () => writes };
}

/** Publishes `n` messages, each from its own setImmediate callback (as separate I/O callbacks would). */
function publishFromSeparateCallbacks(nc: NatsConnection, subject: string, n: number): Promise<void> {
  return new Promise((resolve) => {
    let left = n;
    for (let i = 0; i < n; i++) {
      setImmediate(() => {
        nc.publish(subject, String(i));
        if (--left === 0) resolve();
      });
    }
  });
}

describe('coalesceWrites (real nats-server)', () => {
  let nats: NatsServerHandle;
  const open: StoreConnection[] = [];
  const connectWith = async (coalesce: boolean) => {
    const c = await connectStore({ url: nats.url, name: 'coalesce-test', reconnectForever: false, coalesceWrites: coalesce });
    open.push(c);
    return c;
  };

  beforeAll(async () => {
    nats = await startNatsServer();
  });
  afterAll(async () => {
    for (const c of open) await c.close();
    await nats.cleanup();
  });

  it('sends commands queued by separate callbacks in one write, and every message arrives in order', async () => {
    const receiver = await connectWith(false);
    const got: string[] = [];
    const sub = receiver.nc.subscribe('coalesce.test', { callback: (_err, msg) => void got.push(msg.string()) });
    await receiver.nc.flush();

    const plain = await connectWith(false);
    const plainWrites = countWrites(plain.nc);
    await publishFromSeparateCallbacks(plain.nc, 'coalesce.test', 50);
    await plain.nc.flush();

    const coalesced = await connectWith(true);
    const coalescedWrites = countWrites(coalesced.nc);
    await publishFromSeparateCallbacks(coalesced.nc, 'coalesce.test', 50);
    await coalesced.nc.flush();

    // Without coalescing nats.js writes once per callback; with it, once for the whole turn (+ the flush PING).
    expect(plainWrites.count()).toBeGreaterThanOrEqual(50);
    expect(coalescedWrites.count()).toBeLessThanOrEqual(3);
    await receiver.nc.flush();
    const expected = Array.from({ length: 50 }, (_, i) => String(i));
    await expect.poll(() => got.length).toBe(100);
    expect(got.slice(0, 50)).toEqual(expected);
    expect(got.slice(50)).toEqual(expected);
    sub.unsubscribe();
  });

  it('keeps request/reply and KV writes working, and drain delivers what was just published', async () => {
    const c = await connectWith(true);
    c.nc.subscribe('coalesce.echo', { callback: (_err, msg) => void msg.respond(`echo ${msg.string()}`) });
    const reply = await c.nc.request('coalesce.echo', 'hi', { timeout: 2000 });
    expect(reply.string()).toBe('echo hi');

    const kv = await c.bucket('coalesce-kv');
    await kv.create('a', 'one');
    expect((await kv.get('a'))?.string()).toBe('one');

    const reader = await connectWith(false);
    const got: string[] = [];
    reader.nc.subscribe('coalesce.last', { callback: (_err, msg) => void got.push(msg.string()) });
    await reader.nc.flush();
    const last = await connectStore({ url: nats.url, name: 'coalesce-drain', reconnectForever: false });
    last.nc.publish('coalesce.last', 'bye');
    await last.close();
    await expect.poll(() => got).toEqual(['bye']);
  });

  it('recognises the nats.js version in use, and leaves an unknown shape alone', () => {
    // The real connections above were patched (connectStore would otherwise have thrown nothing and
    // silently lost the gain): an upgrade that changes ProtocolHandler fails here.
    const c = open[0];
    expect(coalesceWrites(c.nc)).toBe(true);
    expect(coalesceWrites({} as NatsConnection)).toBe(false);
    expect(coalesceWrites({ protocol: { flushPending: 'no' } } as unknown as NatsConnection)).toBe(false);
  });
});
