/** What one dnsperf run reported. */
export interface DnsperfResult {
  sent: number;
  completed: number;
  lost: number;
  qps: number;
  avgLatencyMs: number;
  rcodes: Record<string, number>;
}

function num(text: string, label: RegExp): number {
  const m = label.exec(text);
  return m ? Number(m[1]) : NaN;
}

/** Parses dnsperf's closing statistics. */
export function parseDnsperf(text: string): DnsperfResult {
  const rcodes: Record<string, number> = {};
  const codes = /Response codes:\s+(.*)/.exec(text)?.[1] ?? '';
  for (const m of codes.matchAll(/([A-Z]+) (\d+)/g)) rcodes[m[1]!] = Number(m[2]);
  return {
    sent: num(text, /Queries sent:\s+(\d+)/),
    completed: num(text, /Queries completed:\s+(\d+)/),
    lost: num(text, /Queries lost:\s+(\d+)/),
    qps: num(text, /Queries per second:\s+([\d.]+)/),
    avgLatencyMs: num(text, /Average Latency \(s\):\s+([\d.]+)/) * 1000,
    rcodes,
  };
}

/**
 * Per-query latencies (ms) from `dnsperf -v`, whose answer lines read
 * `> NOERROR name TYPE 0.000123` (the last field in seconds).
 */
export function parseVerboseLatencies(text: string): number[] {
  const out: number[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('> ')) continue;
    const last = line.slice(line.lastIndexOf(' ') + 1);
    const s = Number(last);
    if (Number.isFinite(s)) out.push(s * 1000);
  }
  return out;
}

