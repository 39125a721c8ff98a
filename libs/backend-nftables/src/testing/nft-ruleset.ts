/**
 * An in-memory nftables ruleset that applies `nft -f` input the way the
 * kernel does, for unit tests: the whole input is one transaction (a refused
 * command leaves the ruleset exactly as it was); a rule or a verdict element
 * naming a chain or a set that does not exist, deleting a chain that still
 * has rules or is jumped to, deleting a set a rule still uses, deleting what
 * does not exist, or adding an element whose key is taken with other data are
 * refused as the kernel refuses them. It lists tables in `nft list` form,
 * which `nft -f` (and this fake) reads back.
 */
import type { NftRulesetView } from '../tracer.js';
import { parseNftScript } from './nft-script.js';
import type { NftCommand } from './nft-script.js';

/** A command the kernel (or nft) refused; the transaction changed nothing. */
export class NftTransactionError extends Error {
  override readonly name = 'NftTransactionError';
  /** 1-based line of the input. */
  readonly line: number;
  constructor(line: number, reason: string) {
    super(`/dev/stdin:${line}: Error: Could not process rule: ${reason}`);
    this.line = line;
  }
}

interface SetState {
  kind: 'set' | 'map';
  /** Declaration lines (`type …`, `typeof …`, `flags …`, `counter`, `timeout …`). */
  decl: string[];
  /** Key text → element text as written (`key comment "…" : data`). */
  elements: Map<string, { text: string; data: string | undefined }>;
}

interface ChainState {
  /** `type nat hook prerouting priority dstnat; policy accept;` for a base chain. */
  base: string | undefined;
  rules: string[];
}

interface TableState {
  sets: Map<string, SetState>;
  chains: Map<string, ChainState>;
}

type Ruleset = Map<string, TableState>;

const ENOENT = 'No such file or directory';
const EBUSY = 'Device or resource busy';
const EEXIST = 'File exists';

/** Chains a rule or verdict jumps or goes to. */
function chainRefs(text: string): string[] {
  return [...unquoted(text).matchAll(/\b(?:jump|goto) ([\w.-]+)/g)].map((m) => m[1]!);
}

/** Sets and maps a rule uses (`@name`). */
function setRefs(text: string): string[] {
  return [...unquoted(text).matchAll(/@([\w.-]+)/g)].map((m) => m[1]!);
}

function unquoted(text: string): string {
  return text.replace(/"[^"]*"/g, '""');
}

/** Key fields a set declaration has (`type a . b : v` / `typeof x . y : …`). */
function keyFields(decl: readonly string[]): number | undefined {
  const d = decl.find((l) => /^typeof |^type /.test(l));
  if (!d) return undefined;
  return d.replace(/^typeof |^type /, '').split(' : ')[0]!.split(' . ').length;
}

/** Splits an element's text into key and data (`10.96.0.1 . tcp . 80 comment "x" : goto c`). */
export function splitElement(text: string): { key: string; data: string | undefined } {
  let colon = -1;
  for (let i = 0, quoted = false; i < text.length && colon < 0; i++) {
    if (text[i] === '"') quoted = !quoted;
    else if (!quoted && text.startsWith(' : ', i)) colon = i;
  }
  const head = colon < 0 ? text : text.slice(0, colon);
  const key = head
    .replace(/ comment "[^"]*"/, '')
    .replace(/ (?:timeout|expires) \S+/g, '')
    .replace(/ counter( packets \d+ bytes \d+)?/, '')
    .trim();
  return { key, data: colon < 0 ? undefined : text.slice(colon + 3).trim() };
}

function clone(r: Ruleset): Ruleset {
  const out: Ruleset = new Map();
  for (const [name, t] of r) {
    out.set(name, {
      sets: new Map([...t.sets].map(([n, s]) => [n, { kind: s.kind, decl: [...s.decl], elements: new Map(s.elements) }])),
      chains: new Map([...t.chains].map(([n, c]) => [n, { base: c.base, rules: [...c.rules] }])),
    });
  }
  return out;
}

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** One network namespace's nftables. */
export class NftRuleset {
  private tables: Ruleset = new Map();

  /** Applies `nft -f` input as one transaction; throws NftTransactionError (and changes nothing) on the first refused command. */
  apply(text: string): void {
    const next = clone(this.tables);
    for (const cmd of parseNftScript(text)) {
      try {
        run(next, cmd);
      } catch (err) {
        throw new NftTransactionError(cmd.line, err instanceof Error ? err.message : String(err));
      }
    }
    this.tables = next;
  }

  /** `delete table <family> <name>` on its own (as `nft delete table …` runs it). */
  deleteTable(family: string, name: string): void {
    this.apply(`delete table ${family} ${name}\n`);
  }

  has(family: string, name: string): boolean {
    return this.tables.has(`${family} ${name}`);
  }

  /** `nft list table <family> <name>`: sets and chains by name, elements by key; undefined when there is no such table. */
  list(family: string, name: string): string | undefined {
    const t = this.tables.get(`${family} ${name}`);
    if (!t) return undefined;
    let out = `table ${family} ${name} {\n`;
    for (const setName of [...t.sets.keys()].sort(byName)) {
      const s = t.sets.get(setName)!;
      out += `\t${s.kind} ${setName} {\n${s.decl.map((l) => `\t\t${l}\n`).join('')}`;
      const els = [...s.elements.keys()].sort(byName).map((k) => s.elements.get(k)!.text);
      if (els.length > 0) out += `\t\telements = { ${els.join(',\n\t\t\t     ')} }\n`;
      out += '\t}\n';
    }
    for (const chainName of [...t.chains.keys()].sort(byName)) {
      const c = t.chains.get(chainName)!;
      out += `\tchain ${chainName} {\n${c.base ? `\t\t${c.base}\n` : ''}${c.rules.map((r) => `\t\t${r}\n`).join('')}\t}\n`;
    }
    return `${out}}\n`;
  }

  /** `nft list ruleset`: every table. */
  listRuleset(): string {
    return [...this.tables.keys()]
      .sort(byName)
      .map((k) => this.list(...(k.split(' ') as [string, string]))!)
      .join('');
  }

  /** One table as the packet tracer reads it (traceNftRuleset); undefined when there is no such table. */
  view(family: string, name: string): NftRulesetView | undefined {
    const t = this.tables.get(`${family} ${name}`);
    if (!t) return undefined;
    const maps = new Map<string, Map<string, string>>();
    const sets = new Map<string, string[]>();
    for (const [setName, s] of t.sets) {
      maps.set(setName, new Map([...s.elements].map(([k, e]) => [k, e.data ?? ''])));
      sets.set(setName, [...s.elements.keys()]);
    }
    return { maps, sets, chains: new Map([...t.chains].map(([n, c]) => [n, [...c.rules]])) };
  }
}

function table(r: Ruleset, cmd: NftCommand): TableState {
  const t = r.get(cmd.table);
  if (!t) throw new Error(`${ENOENT} (table ${cmd.table})`);
  return t;
}

function chain(t: TableState, name: string): ChainState {
  const c = t.chains.get(name);
  if (!c) throw new Error(`${ENOENT} (chain ${name})`);
  return c;
}

function set(t: TableState, name: string): SetState {
  const s = t.sets.get(name);
  if (!s) throw new Error(`${ENOENT} (set ${name})`);
  return s;
}

/** Rules and verdict elements that jump or go to `name`. */
function chainUsers(t: TableState, name: string): number {
  let n = 0;
  for (const c of t.chains.values()) for (const r of c.rules) if (chainRefs(r).includes(name)) n++;
  for (const s of t.sets.values()) for (const e of s.elements.values()) if (e.data && chainRefs(e.data).includes(name)) n++;
  return n;
}

function checkRule(t: TableState, rule: string): void {
  for (const c of chainRefs(rule)) {
    const target = t.chains.get(c);
    if (!target) throw new Error(`${ENOENT} (jump to chain ${c})`);
    if (target.base) throw new Error(`Operation not supported (jump to base chain ${c})`);
  }
  for (const s of setRefs(rule)) if (!t.sets.has(s)) throw new Error(`${ENOENT} (set ${s})`);
}

function addElements(t: TableState, setName: string, texts: readonly string[], create: boolean): void {
  const s = set(t, setName);
  const fields = keyFields(s.decl);
  for (const text of texts) {
    const { key, data } = splitElement(text);
    if (fields !== undefined && key.split(' . ').length !== fields) throw new Error(`Invalid argument (key ${key} of ${setName} has ${fields} fields)`);
    if ((data === undefined) !== (s.kind === 'set')) throw new Error(`Invalid argument (element ${key} of ${s.kind} ${setName})`);
    for (const c of chainRefs(data ?? '')) if (!t.chains.has(c)) throw new Error(`${ENOENT} (verdict to chain ${c})`);
    const old = s.elements.get(key);
    if (old && (create || old.data !== data)) throw new Error(`${EEXIST} (element ${key} of ${setName})`);
    s.elements.set(key, { text, data });
  }
}

function run(r: Ruleset, cmd: NftCommand): void {
  switch (cmd.op) {
    case 'add-table':
      if (r.has(cmd.table)) {
        if (cmd.create) throw new Error(`${EEXIST} (table ${cmd.table})`);
        return;
      }
      r.set(cmd.table, { sets: new Map(), chains: new Map() });
      return;
    case 'delete-table':
      table(r, cmd);
      r.delete(cmd.table);
      return;
    case 'flush-table':
      for (const c of table(r, cmd).chains.values()) c.rules = [];
      for (const s of table(r, cmd).sets.values()) s.elements.clear();
      return;
    case 'add-chain': {
      const t = table(r, cmd);
      const c = t.chains.get(cmd.name);
      if (c && cmd.create) throw new Error(`${EEXIST} (chain ${cmd.name})`);
      if (c && cmd.base !== undefined && c.base !== cmd.base) throw new Error(`${EEXIST} (chain ${cmd.name} with another hook)`);
      if (!c) t.chains.set(cmd.name, { base: cmd.base, rules: [] });
      return;
    }
    case 'flush-chain':
      chain(table(r, cmd), cmd.name).rules = [];
      return;
    case 'delete-chain': {
      const t = table(r, cmd);
      const c = chain(t, cmd.name);
      if (c.rules.length > 0) throw new Error(`${EBUSY} (chain ${cmd.name} has ${c.rules.length} rule(s))`);
      const users = chainUsers(t, cmd.name);
      if (users > 0) throw new Error(`${EBUSY} (chain ${cmd.name} is jumped to from ${users} rule(s) or element(s))`);
      t.chains.delete(cmd.name);
      return;
    }
    case 'add-rule': {
      const t = table(r, cmd);
      const c = chain(t, cmd.name);
      checkRule(t, cmd.rule);
      if (cmd.insert) c.rules.unshift(cmd.rule);
      else c.rules.push(cmd.rule);
      return;
    }
    case 'add-set': {
      const t = table(r, cmd);
      const s = t.sets.get(cmd.name);
      if (s && (cmd.create || s.kind !== cmd.kind || s.decl.join(';') !== cmd.decl.join(';'))) throw new Error(`${EEXIST} (${cmd.kind} ${cmd.name})`);
      if (!s) t.sets.set(cmd.name, { kind: cmd.kind, decl: [...cmd.decl], elements: new Map() });
      if (cmd.elements.length > 0) addElements(t, cmd.name, cmd.elements, false);
      return;
    }
    case 'flush-set':
      set(table(r, cmd), cmd.name).elements.clear();
      return;
    case 'delete-set': {
      const t = table(r, cmd);
      set(t, cmd.name);
      for (const c of t.chains.values()) for (const rule of c.rules) if (setRefs(rule).includes(cmd.name)) throw new Error(`${EBUSY} (set ${cmd.name} is used by a rule)`);
      t.sets.delete(cmd.name);
      return;
    }
    case 'add-element':
      addElements(table(r, cmd), cmd.name, cmd.elements, cmd.create);
      return;
    case 'delete-element': {
      const s = set(table(r, cmd), cmd.name);
      for (const text of cmd.elements) {
        const { key } = splitElement(text);
        if (!s.elements.delete(key)) throw new Error(`${ENOENT} (element ${key} of ${cmd.name})`);
      }
      return;
    }
  }
}
