/**
 * One process of simulated agents (see sim-agent.ts), driven by the
 * benchmark over Node IPC. Aggregates what its agents measured.
 */
import { SharedDecoding, SimAgent, wallNow } from './sim-agent.js';
import type { FromWorker, ToWorker, WorkerResults } from './protocol.js';

function send(m: FromWorker): void {
  process.send?.(m);
}

/** Runs `fn` over `items` with at most `limit` at a time. */
async function pool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

export function runWorker(): void {
  const shared = new SharedDecoding();
  let agents: SimAgent[] = [];
  const latencies: number[] = [];
  const perChangeMax = new Map<number, number>();
  const tracked = new Map<number, { count: number; lastAt: number }>();
  const events = {
    applied: (writtenAt: number, latencyMs: number) => {
      latencies.push(latencyMs);
      if (latencyMs > (perChangeMax.get(writtenAt) ?? -1)) perChangeMax.set(writtenAt, latencyMs);
    },
    programmed: (_a: SimAgent, from: number, to: number) => {
      if (tracked.size === 0) return;
      const at = wallNow();
      for (const [revision, t] of tracked) {
        if (revision > from && revision <= to) {
          t.count++;
          t.lastAt = at;
        }
      }
    },
  };
  const cpu0 = process.cpuUsage();

  process.on('message', (raw: unknown) => {
    const m = raw as ToWorker;
    void (async () => {
      switch (m.type) {
        case 'init':
          agents = m.names.map(
            (name) => new SimAgent({ name, natsUrl: m.natsUrl, mode: m.mode, minSyncMs: m.minSyncMs, heartbeatMs: m.heartbeatMs, shared, events }),
          );
          send({ type: 'ready' });
          break;
        case 'connect': {
          const t = performance.now();
          await pool(agents, 64, (a) => a.connect());
          send({ type: 'connected', ms: performance.now() - t });
          break;
        }
        case 'start': {
          let batch: number[] = [];
          const flush = setInterval(() => {
            if (batch.length === 0) return;
            send({ type: 'synced', times: batch });
            batch = [];
          }, 250);
          await Promise.all(agents.map((a) => a.start().then(() => void batch.push(wallNow() - m.t0))));
          clearInterval(flush);
          if (batch.length > 0) send({ type: 'synced', times: batch });
          break;
        }
        case 'track':
          // Agents already there count at once.
          tracked.set(m.revision, { count: agents.filter((a) => a.programmed >= m.revision).length, lastAt: wallNow() });
          break;
        case 'collect': {
          const sizes = agents.map((a) => a.planSize);
          const cpu = process.cpuUsage(cpu0);
          const results: WorkerResults = {
            latencies,
            perChangeMax: [...perChangeMax],
            tracked: [...tracked].map(([r, t]) => [r, t.count, t.lastAt]),
            planSizes: { min: Math.min(...sizes), max: Math.max(...sizes) },
            cpuMs: (cpu.user + cpu.system) / 1000,
            rssMiB: process.memoryUsage().rss / 1024 / 1024,
            syncs: agents.reduce((n, a) => n + a.syncs, 0),
            extraBases: agents.reduce((n, a) => n + Math.max(0, a.feedStats.resyncs - 1), 0),
            gapRecords: agents.reduce((n, a) => n + a.feedStats.gapRecords, 0),
          };
          send({ type: 'results', results });
          break;
        }
        case 'stop':
          await pool(agents, 64, (a) => a.stop());
          send({ type: 'stopped' });
          setTimeout(() => process.exit(0), 50);
          break;
      }
    })().catch((err: unknown) => {
      console.error('bench worker:', err);
      process.exit(1);
    });
  });
}
