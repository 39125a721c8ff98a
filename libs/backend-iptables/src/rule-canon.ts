/**
 * Options iptables-save adds with their default value: they mean the same as
 * leaving them out, which is what the renderer does.
 */
const DEFAULTS = new Set(['--mask=255.255.255.255', '--rsource', '--reject-with=icmp-port-unreachable']);

/** Modules implied by other words of the rule (`-p tcp --dport`, `--comment`). */
const IMPLIED_MODULES = new Set(['-m=tcp', '-m=udp', '-m=sctp', '-m=comment']);

function isOption(tok: string, quoted: boolean): boolean {
  return !quoted && (tok === '!' || (tok.length > 1 && tok[0] === '-' && !/^-\d/.test(tok)));
}

/** Words of a rule, marking which were quoted (a quoted word is never an option). */
function words(line: string): { tok: string; quoted: boolean }[] {
  const out: { tok: string; quoted: boolean }[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) out.push(m[1] !== undefined ? { tok: m[1], quoted: true } : { tok: m[2]!, quoted: false });
  return out;
}

function normalize(opt: string, args: string[]): string {
  const v = args.join(' ');
  switch (opt) {
    case '-s':
    case '--source':
    case '-d':
    case '--destination':
      return `-${opt.startsWith('--') ? opt[2] : opt[1]}=${v.includes('/') ? v : `${v}/32`}`;
    case '-p':
    case '--protocol':
      return `-p=${v.toLowerCase()}`;
    case '--probability':
      // xt_statistic keeps the probability as a 31-bit fraction and prints it back rounded.
      return `--probability=${Math.round(Number(v) * 0x80000000)}`;
    case '--or-mark':
      return `--set-xmark=${v}/${v}`;
    case '--xor-mark':
      return `--set-xmark=${v}/0x0`;
    case '--set-mark':
      return `--set-xmark=${v.includes('/') ? v : `${v}/0xffffffff`}`;
    case '--ctstate':
      return `--ctstate=${v.split(',').sort().join(',')}`;
    default:
      return args.length === 0 ? opt : `${opt}=${v}`;
  }
}

/**
 * The meaning of one rule as an order-free string: the renderer's text and
 * what iptables-save prints for it (reordered matches, defaults spelled out,
 * MARK and probability in another form) give the same canonical form, while
 * any change of address, port, target, mark or comment gives another.
 */
export function canonicalRule(line: string): string {
  const w = words(line);
  let i = w[0]?.tok === '-A' || w[0]?.tok === '-I' ? 2 : 0;
  const items: string[] = [];
  let neg = false;
  while (i < w.length) {
    const { tok, quoted } = w[i++]!;
    if (tok === '!' && !quoted) {
      neg = true;
      continue;
    }
    if (!isOption(tok, quoted)) {
      items.push(`?${tok}`);
      continue;
    }
    const args: string[] = [];
    while (i < w.length && !isOption(w[i]!.tok, w[i]!.quoted)) args.push(w[i++]!.tok);
    const item = normalize(tok, args);
    if (!neg && (DEFAULTS.has(item) || IMPLIED_MODULES.has(item))) continue;
    items.push(neg ? `!${item}` : item);
    neg = false;
  }
  return items.sort().join(' ');
}

/** Same as canonicalRule for a whole chain; order kept unless `unordered`. */
export function canonicalChain(lines: readonly string[], unordered = false): string[] {
  const out = lines.map(canonicalRule);
  return unordered ? out.sort() : out;
}

