import { invalidField } from './errors.js';

/** Milliseconds per unit, as Go's time.ParseDuration accepts them. */
const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  'µs': 1e-3,
  'μs': 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const PART = /^(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/;

/** Variations on Go's grammar that some flags take. */
export interface DurationOptions {
  /** A bare number counts as seconds (kubectl's `--request-timeout`, DNS TTLs); Go refuses one. */
  bareSeconds?: boolean;
}

/**
 * Parses a duration the way Go's `time.ParseDuration` does (kube-proxy's flags
 * take `100ms`, `30s`, `1m30s`, `1.5h`), returning milliseconds.
 * A bare `0` is allowed; any other number needs a unit.
 */
export function parseDuration(text: string, field = 'duration', options: DurationOptions = {}): number {
  if (options.bareSeconds && /^\d+(\.\d+)?$/.test(text.trim())) return Number(text.trim()) * 1000;
  let rest = text.trim();
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    sign = rest.startsWith('-') ? -1 : 1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') throw invalidField(field, text, 'expected a duration such as 100ms, 30s or 1m');
  let total = 0;
  while (rest.length > 0) {
    const m = PART.exec(rest);
    if (!m) throw invalidField(field, text, 'expected a duration such as 100ms, 30s or 1m');
    total += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
    rest = rest.slice(m[0].length);
  }
  return sign * total;
}

/** Formats milliseconds back into Go's style (`30s`, `100ms`, `1m30s`) for logs. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (ms < 1000) return `${ms}ms`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = (ms % 60_000) / 1000;
  return `${h ? `${h}h` : ''}${h || m ? `${m}m` : ''}${s}s`;
}
