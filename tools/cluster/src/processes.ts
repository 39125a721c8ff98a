import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { killPids } from '@svcnet/netexec';
import type { ProcessRecord } from './state-file.js';

/** PATH with the sbin directories, where ip, iptables and nats-server live on Debian. */
export function toolPath(): string {
  const base = process.env.PATH ?? '/usr/bin:/bin';
  return [base, '/usr/local/sbin', '/usr/sbin', '/sbin'].join(':');
}

/** Field 22 of /proc/<pid>/stat: when the process started; undefined if it is gone. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces; fields after it follow ") ".
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // A killed child that its parent has not reaped yet is a zombie: it no longer runs.
    if (rest[0] === 'Z' || rest[0] === 'X') return undefined;
    return rest[19];
  } catch {
    return undefined;
  }
}

/** True when the recorded process still runs (same PID and same start time). */
export function isRunning(rec: Pick<ProcessRecord, 'pid' | 'startTime'>): boolean {
  return processStartTime(rec.pid) === rec.startTime;
}

/** Parameters for {@link startInNetns}. */
export interface StartParams {
  component: string;
  ns: string;
  argv: string[];
  log: string;
  env?: Record<string, string>;
}

/**
 * Starts a long-running program inside a namespace (`ip netns exec` execs it,
 * so the PID is the program's), detached, stdout and stderr appended to `log`.
 */
export function startInNetns(p: StartParams): ProcessRecord {
  mkdirSync(dirname(p.log), { recursive: true });
  const fd = openSync(p.log, 'a');
  try {
    const [file, ...args] = p.argv;
    if (!file) throw new Error(`${p.component}: empty command`);
    const child = spawn('ip', ['netns', 'exec', p.ns, file, ...args], {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: { ...process.env, PATH: toolPath(), ...p.env },
    });
    child.unref();
    const pid = child.pid;
    if (pid === undefined) throw new Error(`${p.component}: could not start ${file}`);
    const startTime = processStartTime(pid);
    if (startTime === undefined) throw new Error(`${p.component}: ${file} exited at once; see ${p.log}`);
    return { component: p.component, pid, startTime, ns: p.ns, log: p.log, argv: p.argv, ...(p.env ? { env: p.env } : {}) };
  } finally {
    closeSync(fd);
  }
}

/** Stops recorded processes (TERM, then KILL), skipping any whose PID now belongs to someone else. */
export async function stopRecorded(records: readonly ProcessRecord[], graceMs = 3000): Promise<void> {
  const live = records.filter(isRunning);
  // Process groups too: pods' commands may fork (socat fork, sh -c).
  for (const r of live) {
    try {
      process.kill(-r.pid, 'SIGTERM');
    } catch {
      // Not a group leader or already gone: the PID itself is signalled below.
    }
  }
  await killPids(
    live.map((r) => r.pid),
    graceMs,
  );
}

/** The last `lines` lines of a log file (for error messages and `logs`). */
export function tail(path: string, lines = 20): string {
  if (!existsSync(path)) return '';
  const text = readFileSync(path, 'utf8').trimEnd();
  return text.split('\n').slice(-lines).join('\n');
}
