/**
 * In-memory iptables tables that apply `iptables-restore` input the way the
 * kernel and libiptc/libnftnl do, for unit tests: each `*table … COMMIT`
 * block is one transaction (a failing command aborts the restore, leaves that
 * table as it was and keeps the tables committed before it, as
 * iptables-restore does); a jump to a chain that does not exist, deleting a
 * chain that is still referenced or not empty, or deleting a rule that is not
 * there fails like the real tools.
 */

/** Built-in chains per table, in the order iptables-save lists them. */
const BUILTIN: Readonly<Record<string, readonly string[]>> = {
  raw: ['PREROUTING', 'OUTPUT'],
  mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
  security: ['INPUT', 'FORWARD', 'OUTPUT'],
};

/** Targets that are extensions (or verdicts), not chains; some only load in one table. */
const TARGETS: Readonly<Record<string, string | undefined>> = {
  ACCEPT: undefined,
  DROP: undefined,
  RETURN: undefined,
  QUEUE: undefined,
  NFQUEUE: undefined,
  LOG: undefined,
  MARK: undefined,
  CONNMARK: undefined,
  CT: 'raw',
  NOTRACK: 'raw',
  REJECT: 'filter',
  DNAT: 'nat',
  SNAT: 'nat',
  MASQUERADE: 'nat',
  REDIRECT: 'nat',
};

/** xt's chain names are at most 28 characters (XT_EXTENSION_MAXNAMELEN 29, with the NUL). */
const MAX_CHAIN_NAME = 28;

/** A restore command the kernel (or the tool) refused. */
export class IptablesRestoreError extends Error {
  override readonly name = 'IptablesRestoreError';
  /** 1-based line of the restore input. */
  readonly line: number;
  constructor(line: number, reason: string) {
    super(`line ${line} failed: ${reason}`);
    this.line = line;
  }
}

interface Chain {
  /** `ACCEPT`/`DROP` for built-in chains, `-` for user chains. */
  policy: string;
  /** Rule text after `-A <chain> `, as written. */
  rules: string[];
}

type Table = Map<string, Chain>;

/** Words of a rule; quoted strings are one word and are never targets. */
function words(text: string): { tok: string; quoted: boolean }[] {
  const out: { tok: string; quoted: boolean }[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (let m = re.exec(text); m; m = re.exec(text)) out.push(m[1] !== undefined ? { tok: m[1], quoted: true } : { tok: m[2]!, quoted: false });
  return out;
}

/** The chain a rule jumps or goes to, if it names one (`-j X` / `-g X` with X not an extension). */
function jumpTarget(spec: string): { target: string; goto: boolean } | undefined {
  const w = words(spec);
  for (let i = 0; i < w.length - 1; i++) {
    const { tok, quoted } = w[i]!;
    if (quoted) continue;
    if (tok === '-j' || tok === '--jump' || tok === '-g' || tok === '--goto') return { target: w[i + 1]!.tok, goto: tok === '-g' || tok === '--goto' };
  }
  return undefined;
}

/** One rule's text, whitespace normalised (quoted words kept). */
function normaliseSpec(spec: string): string {
  return words(spec)
    .map((w) => (w.quoted ? `"${w.tok}"` : w.tok))
    .join(' ');
}

function emptyTable(name: string): Table {
  const t: Table = new Map();
  for (const c of BUILTIN[name] ?? []) t.set(c, { policy: 'ACCEPT', rules: [] });
  return t;
}

function cloneTable(t: Table): Table {
  return new Map([...t].map(([name, c]) => [name, { policy: c.policy, rules: [...c.rules] }]));
}

/** Options of one restore run. */
export interface RestoreOptions {
  /** `--noflush`: keep what the tables hold; a declared user chain is flushed, others are kept. */
  noflush: boolean;
  /** `-T <table>`: apply only this table's block. */
  onlyTable?: string;
}

/** What a restore printed (`-S` listings) on success. */
export interface RestoreOutput {
  stdout: string;
}

/** One set of iptables tables (one network namespace, one variant). */
export class IptablesTables {
  private readonly tables = new Map<string, Table>();

  /** Applies restore input; throws IptablesRestoreError at the first refused line. */
  restore(text: string, options: RestoreOptions): RestoreOutput {
    const lines = text.split('\n');
    let stdout = '';
    let cur: { name: string; table: Table } | undefined;
    let lastLine = 0;
    for (let i = 0; i < lines.length; i++) {
      const n = i + 1;
      const line = lines[i]!.trim();
      if (line === '' || line.startsWith('#')) continue;
      lastLine = n;
      if (line.startsWith('*')) {
        if (cur) throw new IptablesRestoreError(n, 'COMMIT expected before a new table');
        const name = line.slice(1);
        if (!BUILTIN[name]) throw new IptablesRestoreError(n, `unable to initialize table '${name}'`);
        const existing = this.tables.get(name);
        cur = { name, table: options.noflush && existing ? cloneTable(existing) : emptyTable(name) };
        continue;
      }
      if (!cur) throw new IptablesRestoreError(n, `no table open for "${line}"`);
      if (line === 'COMMIT') {
        if (!options.onlyTable || options.onlyTable === cur.name) this.tables.set(cur.name, cur.table);
        cur = undefined;
        continue;
      }
      if (line === '-S') {
        stdout += listTable(cur.table);
        continue;
      }
      try {
        command(cur.name, cur.table, line);
      } catch (err) {
        throw new IptablesRestoreError(n, err instanceof Error ? err.message : String(err));
      }
    }
    if (cur) throw new IptablesRestoreError(lastLine, 'COMMIT expected');
    return { stdout };
  }

  /** `iptables-save` text of one table or of every table that exists. */
  save(table?: string): string {
    const names = table ? [table] : Object.keys(BUILTIN);
    let out = '';
    for (const name of names) {
      const t = this.tables.get(name);
      if (!t) continue;
      out += `# Generated by iptables-save (svcnet fake)\n*${name}\n`;
      for (const c of chainOrder(name, t)) out += `:${c} ${t.get(c)!.policy} [0:0]\n`;
      for (const c of chainOrder(name, t)) for (const r of t.get(c)!.rules) out += `-A ${c} ${r}\n`;
      out += 'COMMIT\n# Completed\n';
    }
    return out;
  }

  /** Chain → rule lines (`-A …`) of one table, built-in chains included; empty when the table does not exist. */
  chains(table: string): Map<string, string[]> {
    const t = this.tables.get(table);
    return new Map(t ? chainOrder(table, t).map((c) => [c, t.get(c)!.rules.map((r) => `-A ${c} ${r}`)]) : []);
  }
}

/** Built-in chains in hook order, then user chains by name (as iptables-save lists them). */
function chainOrder(table: string, t: Table): string[] {
  const builtin = BUILTIN[table] ?? [];
  return [...builtin, ...[...t.keys()].filter((c) => !builtin.includes(c)).sort()];
}

function listTable(t: Table): string {
  let out = '';
  for (const [name, c] of t) out += c.policy === '-' ? `-N ${name}\n` : `-P ${name} ${c.policy}\n`;
  for (const [name, c] of t) for (const r of c.rules) out += `-A ${name} ${r}\n`;
  return out;
}

function references(t: Table, chain: string): number {
  let n = 0;
  for (const c of t.values()) for (const r of c.rules) if (jumpTarget(r)?.target === chain) n++;
  return n;
}

function needChain(t: Table, name: string | undefined): Chain {
  const c = name === undefined ? undefined : t.get(name);
  if (!c) throw new Error(`chain '${name ?? ''}' does not exist (No chain/target/match by that name)`);
  return c;
}

function checkRule(tableName: string, t: Table, chain: string, spec: string): void {
  const j = jumpTarget(spec);
  if (!j) return;
  if (Object.hasOwn(TARGETS, j.target)) {
    const only = TARGETS[j.target];
    if (only !== undefined && only !== tableName) throw new Error(`target ${j.target} is not valid in table '${tableName}'`);
    if (j.goto) throw new Error(`cannot goto ${j.target}: not a chain`);
    return;
  }
  const target = t.get(j.target);
  if (!target) throw new Error(`Couldn't load target \`${j.target}':No such file or directory`);
  if (target.policy !== '-') throw new Error(`cannot jump to built-in chain ${j.target}`);
  if (j.target === chain) throw new Error(`chain ${chain} jumps to itself (loop)`);
}

/** One command of a table block (`:CHAIN`, `-A`, `-I`, `-D`, `-R`, `-N`, `-F`, `-X`, `-P`, `-Z`). */
function command(tableName: string, t: Table, line: string): void {
  if (line.startsWith(':')) {
    const [name = '', policy = '-'] = line.slice(1).split(/\s+/);
    const builtin = (BUILTIN[tableName] ?? []).includes(name);
    if (builtin) {
      if (policy !== '-') t.get(name)!.policy = policy;
      return;
    }
    if (policy !== '-') throw new Error(`user chain ${name} cannot have a policy`);
    if (name.length > MAX_CHAIN_NAME) throw new Error(`chain name '${name}' too long (must be under ${MAX_CHAIN_NAME + 1} chars)`);
    const c = t.get(name);
    if (c) c.rules = [];
    else t.set(name, { policy: '-', rules: [] });
    return;
  }
  const [, op = '', chain, tail = ''] = /^(\S+)(?:\s+(\S+))?(?:\s+(.*))?$/.exec(line) ?? [];
  const rest = tail === '' ? [] : tail.split(/\s+/);
  const spec = normaliseSpec(tail);
  const afterNumber = normaliseSpec(tail.replace(/^\d+\s*/, ''));
  switch (op) {
    case '-A':
      checkRule(tableName, t, chain!, spec);
      needChain(t, chain).rules.push(spec);
      return;
    case '-I': {
      const c = needChain(t, chain);
      const pos = /^\d+$/.test(rest[0] ?? '') ? Number(rest[0]) : 1;
      const ruleSpec = /^\d+$/.test(rest[0] ?? '') ? afterNumber : spec;
      if (pos < 1 || pos > c.rules.length + 1) throw new Error(`Index of insertion too big (${pos})`);
      checkRule(tableName, t, chain!, ruleSpec);
      c.rules.splice(pos - 1, 0, ruleSpec);
      return;
    }
    case '-R': {
      const c = needChain(t, chain);
      const pos = Number(rest[0]);
      const ruleSpec = afterNumber;
      if (!Number.isInteger(pos) || pos < 1 || pos > c.rules.length) throw new Error(`Index of replacement too big (${rest[0] ?? ''})`);
      checkRule(tableName, t, chain!, ruleSpec);
      c.rules[pos - 1] = ruleSpec;
      return;
    }
    case '-D': {
      const c = needChain(t, chain);
      const byNumber = rest.length === 1 && /^\d+$/.test(rest[0]!);
      const at = byNumber ? Number(rest[0]) - 1 : c.rules.indexOf(spec);
      if (at < 0 || at >= c.rules.length) throw new Error('Bad rule (does a matching rule exist in that chain?)');
      c.rules.splice(at, 1);
      return;
    }
    case '-N':
      if (!chain) throw new Error('-N needs a chain name');
      if (t.has(chain)) throw new Error(`chain ${chain} already exists`);
      if (chain.length > MAX_CHAIN_NAME) throw new Error(`chain name '${chain}' too long`);
      t.set(chain, { policy: '-', rules: [] });
      return;
    case '-F':
      if (chain === undefined) for (const c of t.values()) c.rules = [];
      else needChain(t, chain).rules = [];
      return;
    case '-X': {
      const c = needChain(t, chain);
      if (c.policy !== '-') throw new Error(`cannot delete built-in chain ${chain}`);
      // Kernel and libiptc refuse both: the chain is declared (flushed) first in a restore that deletes it.
      if (c.rules.length > 0) throw new Error(`chain ${chain} is not empty (Directory not empty)`);
      const refs = references(t, chain!);
      if (refs > 0) throw new Error(`chain ${chain} is still referenced by ${refs} rule(s) (Too many links)`);
      t.delete(chain!);
      return;
    }
    case '-P': {
      const c = needChain(t, chain);
      if (c.policy === '-') throw new Error(`cannot set a policy on user chain ${chain}`);
      c.policy = rest[0] ?? 'ACCEPT';
      return;
    }
    case '-Z':
      return;
    default:
      throw new Error(`unknown command ${op}`);
  }
}
