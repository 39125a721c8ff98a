/** Load generator and target servers; each runs as its own process inside a lab namespace. */
import { connect, createServer } from 'node:net';
import { percentile } from '@svcnet/testing';

/** Request/response server: reads one line, answers 64 bytes and closes (short connections). */
export function serveRequests(port: number): void {
  const reply = Buffer.alloc(64, 'x');
  reply[63] = 10;
  createServer((s) => {
    s.on('error', () => undefined);
    s.once('data', () => s.end(reply));
  }).listen({ port, host: '0.0.0.0', backlog: 4096 });
}

export interface RequestStats {
  requests: number;
  errors: number;
  seconds: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
}


/** `concurrency` loops of connect → request → read reply → close, for `seconds`. */
export async function runRequests(params: { host: string; port: number; concurrency: number; seconds: number }): Promise<RequestStats> {
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  const deadline = started + params.seconds * 1000;
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const t0 = performance.now();
      let got = 0;
      const s = connect({ host: params.host, port: params.port, noDelay: true }, () => s.write('GET\n'));
      s.on('data', (d: Buffer) => (got += d.length));
      s.on('error', () => undefined);
      s.on('close', () => {
        if (got === 64) latencies.push(performance.now() - t0);
        else errors++;
        resolve();
      });
    });
  const loop = async (): Promise<void> => {
    while (performance.now() < deadline) await one();
  };
  await Promise.all(Array.from({ length: params.concurrency }, loop));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    errors,
    seconds,
    rps: latencies.length / seconds,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
  };
}
