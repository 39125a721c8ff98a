/**
 * The allocator benchmark still runs and prints its figures, driven by each
 * load generator: a short run against a real
 * nats-server and allocator (apps/allocator/dist, built by `npm test` first).
 * A /28 range then proves that the h2 client decodes gRPC errors (HPACK
 * trailers): the allocator's RESOURCE_EXHAUSTED message must come through.
 * Not a timing test: figures are printed, not checked.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const script = join(root, 'tools/bench/allocator/run.mjs');
const built = existsSync(join(root, 'apps/allocator/dist/main.cjs'));

async function bench(args: string[]): Promise<{ out: string; code: number }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [script, ...args], { cwd: root, timeout: 100_000 });
    return { out: stdout + stderr, code: 0 };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; code?: number };
    return { out: `${e.stdout ?? ''}${e.stderr ?? ''}`, code: e.code ?? -1 };
  }
}

describe.skipIf(!built)(`allocator benchmark smoke run${built ? '' : ' — skipped: apps/allocator/dist/main.cjs not built (npm test builds it first)'}`, () => {
  for (const client of ['h2', 'lean', 'grpc-js']) {
    it(`prints throughput, latency and 0 duplicates with the ${client} client`, async () => {
      const { out, code } = await bench(['--replicas', '1', '--clients', '8', '--requests', '400', '--warmup', '50', '--client', client]);
      expect(code, out).toBe(0);
      expect(out).toMatch(new RegExp(`\\(${client} gRPC client\\)`));
      expect(out).toMatch(/replicas=1 {2}allocations\/s=\d+ {2}p50=[\d.]+ ms {2}p99=[\d.]+ ms {2}p99\.9=[\d.]+ ms .* errors=0 {2}duplicates=0/);
      expect(out).toMatch(/server side \(allocators' grpc_server_handling_seconds\): [\d.]+% of 400 calls/);
    });
  }

  it('compares a 3-server JetStream cluster (R3 buckets) with a single server in one run', async () => {
    const { out, code } = await bench(['--replicas', '1', '--nats', '1,3', '--clients', '4', '--requests', '200', '--warmup', '20']);
    expect(code, out).toBe(0);
    expect(out).toMatch(/nats=1 \(R1\) {2}replicas=1 {2}allocations\/s=\d+ .* errors=0 {2}duplicates=0/);
    expect(out).toMatch(/nats=3 \(R3\) {2}replicas=1 {2}allocations\/s=\d+ .* errors=0 {2}duplicates=0/);
    expect(out).toMatch(/3-server R3 vs single server, 1 allocator replica\(s\): throughput ×[\d.]+, p50 ×[\d.]+, p99 ×[\d.]+/);
  });

  it('the h2 client reports the server\'s gRPC error code and message', async () => {
    // A /28 has 14 usable addresses: warm-up 0, 20 calls → 14 allocations, 6 RESOURCE_EXHAUSTED (8).
    const { out, code } = await bench(['--replicas', '1', '--clients', '2', '--requests', '20', '--warmup', '0', '--range', '10.0.0.0/28']);
    expect(code, out).toBe(0);
    expect(out).toMatch(/errors=6 {2}duplicates=0/);
    expect(out).toMatch(/error: 8 range is full/);
  });
});
