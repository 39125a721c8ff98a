/**
 * Reads `nft -f` input into commands: the line forms (`add chain ip t c`,
 * `add element ip t m { … }`, …) and the block form
 * (`table ip t { map m { … } chain c { … } }`, which is also what `nft list`
 * prints). Enough of nft's grammar for what svcnet writes and lists.
 */

interface At {
  line: number;
  /** `<family> <name>`. */
  table: string;
}

/** One command of a transaction. */
export type NftCommand = At &
  (
    | { op: 'add-table'; create: boolean }
    | { op: 'delete-table' | 'flush-table' }
    | { op: 'add-chain'; name: string; create: boolean; base: string | undefined }
    | { op: 'flush-chain' | 'delete-chain'; name: string }
    | { op: 'add-rule'; name: string; rule: string; insert: boolean }
    | { op: 'add-set'; name: string; kind: 'set' | 'map'; create: boolean; decl: string[]; elements: string[] }
    | { op: 'flush-set' | 'delete-set'; name: string }
    | { op: 'add-element' | 'delete-element'; name: string; elements: string[]; create: boolean }
  );

/** nft could not read its input. */
export class NftSyntaxError extends Error {
  override readonly name = 'NftSyntaxError';
  readonly line: number;
  constructor(line: number, reason: string) {
    super(`/dev/stdin:${line}: Error: syntax error, ${reason}`);
    this.line = line;
  }
}

/** Open minus closed braces outside double quotes. */
function balance(text: string): number {
  let n = 0;
  let quoted = false;
  for (const ch of text) {
    if (ch === '"') quoted = !quoted;
    else if (!quoted && ch === '{') n++;
    else if (!quoted && ch === '}') n--;
  }
  return n;
}

/** Statements of a text: lines joined until their braces balance; comments and blank lines dropped. */
function statements(lines: readonly string[], firstLine: number): { text: string; line: number }[] {
  const out: { text: string; line: number }[] = [];
  for (let i = 0; i < lines.length; i++) {
    const start = lines[i]!.trim();
    if (start === '' || start.startsWith('#')) continue;
    let text = start;
    let depth = balance(start);
    const line = firstLine + i;
    while (depth > 0 && i + 1 < lines.length) {
      const next = lines[++i]!.trim();
      text += `\n${next}`;
      depth += balance(next);
    }
    if (depth !== 0) throw new NftSyntaxError(line, 'unbalanced braces');
    out.push({ text, line });
  }
  return out;
}

/** The text between the first `{` and its closing `}`. */
function inner(text: string, line: number): string {
  const open = text.indexOf('{');
  const close = text.lastIndexOf('}');
  if (open < 0 || close < open) throw new NftSyntaxError(line, `expected { … } in "${text.split('\n')[0]}"`);
  return text.slice(open + 1, close);
}

/** Splits at commas outside quotes and braces. */
function splitTop(text: string, sep: ',' | ';'): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  let depth = 0;
  for (const ch of text) {
    if (ch === '"') quoted = !quoted;
    if (!quoted && ch === '{') depth++;
    if (!quoted && ch === '}') depth--;
    if (!quoted && depth === 0 && ch === sep) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((s) => s.replace(/\s+/g, ' ').trim()).filter((s) => s !== '');
}

/** `type …; flags …; elements = { a, b }` (one line or many) → declaration lines and element texts. */
function setBody(body: string): { decl: string[]; elements: string[] } {
  const at = body.search(/elements\s*=\s*\{/);
  let elements: string[] = [];
  let rest = body;
  if (at >= 0) {
    const open = body.indexOf('{', at);
    let depth = 0;
    let close = open;
    for (let i = open; i < body.length; i++) {
      if (body[i] === '{') depth++;
      if (body[i] === '}' && --depth === 0) {
        close = i;
        break;
      }
    }
    elements = splitTop(body.slice(open + 1, close), ',');
    rest = body.slice(0, at) + body.slice(close + 1);
  }
  const decl = rest
    .split(/[;\n]/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
  return { decl, elements };
}

/** A chain body: the base chain's hook line (if any) and the rules. */
function chainBody(body: string): { base: string | undefined; rules: string[] } {
  const lines = body
    .split('\n')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const base = lines[0] !== undefined && /^type \S+ hook /.test(lines[0]) ? normaliseBase(lines.shift()!) : undefined;
  return { base, rules: lines };
}

function normaliseBase(text: string): string {
  return `${splitTop(text, ';').join('; ')};`;
}

function tableBlock(text: string, line: number, table: string): NftCommand[] {
  const body = statements(inner(text, line).split('\n'), line);
  const parts = body.map((s) => {
    const m = /^(map|set|chain) (\S+) \{/.exec(s.text);
    if (!m) throw new NftSyntaxError(s.line, `unexpected "${s.text.split('\n')[0]}" in table ${table}`);
    return { kind: m[1] as 'map' | 'set' | 'chain', name: m[2]!, body: inner(s.text, s.line), line: s.line };
  });
  // As nft orders a block's objects: chains, then sets, their elements (verdicts may name any chain), then rules.
  const out: NftCommand[] = [{ op: 'add-table', create: false, line, table }];
  for (const p of parts) if (p.kind === 'chain') out.push({ op: 'add-chain', name: p.name, create: false, base: chainBody(p.body).base, line: p.line, table });
  const elements: NftCommand[] = [];
  for (const p of parts) {
    if (p.kind === 'chain') continue;
    const { decl, elements: els } = setBody(p.body);
    out.push({ op: 'add-set', kind: p.kind, name: p.name, create: false, decl, elements: [], line: p.line, table });
    if (els.length > 0) elements.push({ op: 'add-element', name: p.name, elements: els, create: false, line: p.line, table });
  }
  out.push(...elements);
  for (const p of parts) if (p.kind === 'chain') for (const rule of chainBody(p.body).rules) out.push({ op: 'add-rule', name: p.name, rule, insert: false, line: p.line, table });
  return out;
}

const COMMAND = /^(add|create|delete|destroy|flush|insert) (table|chain|rule|set|map|element) (\S+) (\S+)(?: (\S+))?(?: ([\s\S]*))?$/;

/** Parses `nft -f` input. */
export function parseNftScript(text: string): NftCommand[] {
  const out: NftCommand[] = [];
  for (const s of statements(text.split('\n'), 1)) {
    const block = /^table (\S+) (\S+) \{/.exec(s.text);
    if (block) {
      out.push(...tableBlock(s.text, s.line, `${block[1]} ${block[2]}`));
      continue;
    }
    const m = COMMAND.exec(s.text);
    if (!m) throw new NftSyntaxError(s.line, `unexpected "${s.text.split('\n')[0]}"`);
    const [, verb, object, family, tableName, name = '', rest = ''] = m;
    const at: At = { line: s.line, table: `${family} ${tableName}` };
    const create = verb === 'create';
    const need = () => {
      if (name === '') throw new NftSyntaxError(s.line, `${object} name missing`);
      return name;
    };
    if (object === 'table') {
      if (verb === 'add' || verb === 'create') out.push({ op: 'add-table', create, ...at });
      else if (verb === 'delete') out.push({ op: 'delete-table', ...at });
      else if (verb === 'flush') out.push({ op: 'flush-table', ...at });
      else throw new NftSyntaxError(s.line, `${verb} table is not supported`);
    } else if (object === 'chain') {
      if (verb === 'add' || verb === 'create') out.push({ op: 'add-chain', name: need(), create, base: rest.includes('{') ? chainBody(inner(rest, s.line)).base : undefined, ...at });
      else if (verb === 'flush' || verb === 'delete') out.push({ op: `${verb}-chain`, name: need(), ...at });
      else throw new NftSyntaxError(s.line, `${verb} chain is not supported`);
    } else if (object === 'rule') {
      if (verb !== 'add' && verb !== 'insert') throw new NftSyntaxError(s.line, `${verb} rule is not supported (by handle)`);
      if (rest.trim() === '') throw new NftSyntaxError(s.line, 'empty rule');
      out.push({ op: 'add-rule', name: need(), rule: rest.replace(/\s+/g, ' ').trim(), insert: verb === 'insert', ...at });
    } else if (object === 'set' || object === 'map') {
      if (verb === 'add' || verb === 'create') {
        const { decl, elements } = setBody(inner(rest, s.line));
        out.push({ op: 'add-set', kind: object, name: need(), create, decl, elements, ...at });
      } else if (verb === 'flush' || verb === 'delete') out.push({ op: `${verb}-set`, name: need(), ...at });
      else throw new NftSyntaxError(s.line, `${verb} ${object} is not supported`);
    } else {
      if (verb !== 'add' && verb !== 'create' && verb !== 'delete') throw new NftSyntaxError(s.line, `${verb} element is not supported`);
      out.push({ op: verb === 'delete' ? 'delete-element' : 'add-element', name: need(), elements: splitTop(inner(rest, s.line), ','), create, ...at });
    }
  }
  return out;
}
