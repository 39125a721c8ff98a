import { readFileSync } from 'node:fs';

/** CPU time (user + system, ms) and resident size (MiB) of a process, from /proc. */
export interface ProcSample {
  cpuMs: number;
  rssMiB: number;
}

const TICK_MS = 10; // USER_HZ is 100 on Linux

export function sampleProc(pid: number): ProcSample | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    return { cpuMs: (utime + stime) * TICK_MS, rssMiB: rssKiB / 1024 };
  } catch {
    return undefined;
  }
}

/** Samples a set of processes every `everyMs`: CPU used between marks and peak RSS. */
export class ProcWatch {
  private readonly peaks = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pids: Record<string, number>, everyMs = 500) {
    this.timer = setInterval(() => this.tick(), everyMs);
    this.tick();
  }

  private tick(): void {
    for (const [name, pid] of Object.entries(this.pids)) {
      const s = sampleProc(pid);
      if (s) this.peaks.set(name, Math.max(this.peaks.get(name) ?? 0, s.rssMiB));
    }
  }

  /** CPU time of every process now (for deltas between phases). */
  mark(): Record<string, number> {
    return Object.fromEntries(Object.entries(this.pids).map(([n, pid]) => [n, sampleProc(pid)?.cpuMs ?? 0]));
  }

  rss(): Record<string, number> {
    return Object.fromEntries(Object.entries(this.pids).map(([n, pid]) => [n, sampleProc(pid)?.rssMiB ?? 0]));
  }

  /** Peak RSS seen since the last reset, then starts over. */
  takePeaks(): Record<string, number> {
    this.tick();
    const out = Object.fromEntries(this.peaks);
    this.peaks.clear();
    return out;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
