// Thousands of generated bad requests for every RPC of both servers, over real
// gRPC against a real nats-server: bad input is refused as bad input (never
// INTERNAL, UNKNOWN or UNAVAILABLE, never a hang), and both servers still answer
// correctly afterwards. SVCNET_FUZZ_SEED=<n> replays a run; SVCNET_FUZZ_PER_RPC
// sets the count.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, credentials, Metadata, status } from '@grpc/grpc-js';
import { StateStack, wireService, type StateTestClient } from './harness.js';
import { ProtoFuzzer, seededRandom } from './proto-fuzz.js';

const PER_RPC = Number(process.env['SVCNET_FUZZ_PER_RPC'] ?? 2000);
const SEED = Number(process.env['SVCNET_FUZZ_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
const IN_FLIGHT = 32;
/**
 * Watches a client cancels per HTTP/2 connection. Each cancel is an RST_STREAM,
 * and nghttp2 (Node's HTTP/2) answers a burst of 1000 of them with GOAWAY
 * INTERNAL_ERROR — the rapid-reset defence, which is right for the server to
 * have — so the fuzzer opens a fresh connection well before that.
 */
const CANCELS_PER_CONNECTION = 400;
/** What bad input may get back. Everything else is a server fault. */
const FORBIDDEN = new Set([status.INTERNAL, status.UNKNOWN, status.UNAVAILABLE, status.DATA_LOSS, status.DEADLINE_EXCEEDED, status.UNIMPLEMENTED]);

const identity = (b: Buffer): Buffer => b;

function unary(client: Client, path: string, body: Uint8Array): Promise<{ code: number; details: string }> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(path, identity, identity, Buffer.from(body), new Metadata(), { deadline: Date.now() + 10_000 }, (err) =>
      resolve(err ? { code: err.code, details: err.details } : { code: status.OK, details: '' }),
    );
  });
}

/** A Watch: its first message (or its status) is enough; then it is cancelled. */
function stream(client: Client, path: string, body: Uint8Array): Promise<{ code: number; details: string }> {
  return new Promise((resolve) => {
    const call = client.makeServerStreamRequest(path, identity, identity, Buffer.from(body), new Metadata(), { deadline: Date.now() + 10_000 });
    let done = false;
    const finish = (r: { code: number; details: string }): void => {
      if (done) return;
      done = true;
      resolve(r);
      call.cancel();
    };
    call.on('data', () => finish({ code: status.OK, details: '' }));
    call.on('error', (err: { code: number; details: string }) => finish({ code: err.code, details: err.details }));
    call.on('end', () => finish({ code: status.OK, details: '' }));
  });
}

async function pool<T>(items: T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

describe('gRPC fuzz: generated bad requests against svcnet-state and svcnet-allocator', () => {
  let stack: StateStack;
  let client: StateTestClient;

  beforeAll(async () => {
    stack = await StateStack.start();
    client = stack.client;
  });
  afterAll(async () => {
    await stack?.stop();
  });

  for (const target of [
    { service: 'svcnet.v1.State', address: () => stack.state.address },
    { service: 'svcnet.v1.Allocator', address: () => stack.allocator.address },
  ]) {
    it(`${target.service}: ${PER_RPC} requests per RPC (seed ${SEED})`, { timeout: 600_000 }, async () => {
      const fuzz = new ProtoFuzzer(seededRandom(SEED));
      const clients: Client[] = [];
      const connect = (): Client => {
        // A fresh channel option makes grpc-js open its own connection
        // instead of sharing the earlier channel's subchannel.
        const c = new Client(target.address(), credentials.createInsecure(), { 'grpc.fuzz-connection': clients.length });
        clients.push(c);
        return c;
      };
      let raw = connect();
      const faults: string[] = [];
      const codes = new Map<string, number>();
      try {
        for (const m of fuzz.methods(target.service)) {
          const bodies = Array.from({ length: PER_RPC }, (_, i) => (i % 3 === 0 ? fuzz.bytes() : fuzz.message(m.input)));
          let streamsOnConnection = 0;
          await pool(bodies, IN_FLIGHT, async (body) => {
            if (m.serverStreaming && ++streamsOnConnection > CANCELS_PER_CONNECTION) {
              // Closing the old one would fail its queued calls; all close at the end.
              raw = connect();
              streamsOnConnection = 1;
            }
            const r = await (m.serverStreaming ? stream(raw, m.path, body) : unary(raw, m.path, body));
            const key = `${m.name} ${status[r.code]}`;
            codes.set(key, (codes.get(key) ?? 0) + 1);
            if (FORBIDDEN.has(r.code) && faults.length < 20) {
              faults.push(`${m.name} → ${status[r.code]}: ${r.details.slice(0, 300)} (request ${Buffer.from(body).toString('base64').slice(0, 200)})`);
            }
          });
        }
      } finally {
        for (const c of clients) c.close();
      }
      console.log(`fuzz ${target.service} seed ${SEED}:`, Object.fromEntries([...codes].sort()));
      expect(faults, `replay with SVCNET_FUZZ_SEED=${SEED}`).toEqual([]);
    });
  }

  it('both servers still answer correctly afterwards, and the state service never lost NATS', async () => {
    const created = await client.createService(wireService({ namespace: 'after-fuzz', name: 'web' }));
    expect(created.spec!.clusterIp).toMatch(/^10\.96\.0\.\d+$/);
    expect((await client.getService('after-fuzz', 'web')).spec!.clusterIp).toBe(created.spec!.clusterIp);
    expect((await stack.alloc.getStatus()).ranges.length).toBeGreaterThan(0);
    expect(stack.state.logs()).not.toMatch(/reconnected to NATS|"level":60/);
    expect(stack.state.child.exitCode).toBeNull();
    expect(stack.allocator.child.exitCode).toBeNull();
  });
});
