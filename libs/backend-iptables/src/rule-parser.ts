/** One rule of our own rule text, parsed for the packet tracer. */
export interface ParsedRule {
  line: string;
  chain: string;
  proto?: string;
  src?: { cidr: string; neg: boolean };
  dst?: { cidr: string; neg: boolean };
  dport?: number;
  srcTypeLocal?: boolean;
  dstTypeLocal?: boolean;
  probability?: number;
  recent?: { name: string; mode: 'rcheck' | 'set' };
  mark?: { value: number; mask: number; neg: boolean };
  ctstate?: { states: string[]; neg: boolean };
  target?: string;
  toDestination?: string;
  orMark?: number;
  xorMark?: number;
}

/** Splits a rule line into words; double-quoted strings are one word. */
export function tokenize(line: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) out.push(m[1] ?? m[2]!);
  return out;
}

function parseMark(s: string): { value: number; mask: number } {
  const [v = '', m] = s.split('/');
  return { value: Number(v), mask: m === undefined ? 0xffffffff : Number(m) };
}

/**
 * Parses `-A CHAIN …` as written by the renderer. Any option the tracer does
 * not understand is an error: a tracer that skipped a match would report
 * reachability the kernel does not have.
 */
export function parseRule(line: string): ParsedRule {
  const t = tokenize(line);
  if (t[0] !== '-A' || !t[1]) throw new Error(`tracer: not an append rule: ${line}`);
  const r: ParsedRule = { line, chain: t[1] };
  let neg = false;
  const need = (i: number) => {
    const v = t[i];
    if (v === undefined) throw new Error(`tracer: missing value after ${t[i - 1]} in ${line}`);
    return v;
  };
  for (let i = 2; i < t.length; i++) {
    const tok = t[i]!;
    const wasNeg = neg;
    neg = false;
    switch (tok) {
      case '!':
        neg = true;
        break;
      case '-m':
        i++;
        break;
      case '-p':
        r.proto = need(++i);
        break;
      case '-s':
        r.src = { cidr: need(++i), neg: wasNeg };
        break;
      case '-d':
        r.dst = { cidr: need(++i), neg: wasNeg };
        break;
      case '--dport':
        r.dport = Number(need(++i));
        break;
      case '--comment':
        i++;
        break;
      case '--dst-type':
        r.dstTypeLocal = need(++i) === 'LOCAL';
        break;
      case '--src-type':
        r.srcTypeLocal = need(++i) === 'LOCAL';
        break;
      case '--mode':
        if (need(++i) !== 'random') throw new Error(`tracer: unsupported statistic mode in ${line}`);
        break;
      case '--probability':
        r.probability = Number(need(++i));
        break;
      case '--name':
        r.recent = { name: need(++i), mode: r.recent?.mode ?? 'rcheck' };
        break;
      case '--rcheck':
        r.recent = { name: r.recent?.name ?? '', mode: 'rcheck' };
        break;
      case '--set':
        r.recent = { name: r.recent?.name ?? '', mode: 'set' };
        break;
      case '--seconds':
        i++;
        break;
      case '--reap':
      case '--random-fully':
        break;
      case '--mark':
        r.mark = { ...parseMark(need(++i)), neg: wasNeg };
        break;
      case '--ctstate':
        r.ctstate = { states: need(++i).split(','), neg: wasNeg };
        break;
      case '-j':
        r.target = need(++i);
        break;
      case '--to-destination':
        r.toDestination = need(++i);
        break;
      case '--or-mark':
        r.orMark = Number(need(++i));
        break;
      case '--xor-mark':
        r.xorMark = Number(need(++i));
        break;
      default:
        throw new Error(`tracer: unsupported option ${tok} in ${line}`);
    }
  }
  return r;
}

