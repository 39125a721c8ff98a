import { describe, expect, it } from 'vitest';
import { FakeNftExec } from './fake-nft-exec.js';
import { NftRuleset, NftTransactionError } from './nft-ruleset.js';

const SEED = `table ip t {
\tmap dispatch {
\t\ttype ipv4_addr . inet_proto . inet_service : verdict
\t\tcounter
\t\telements = { 10.96.0.1 . tcp . 80 comment "a/b:, c" : goto pick,
\t\t\t     10.96.0.2 . tcp . 80 comment "a/c:" : drop }
\t}
\tset aff {
\t\ttype ipv4_addr
\t\tflags dynamic,timeout
\t}
\tchain hook {
\t\ttype nat hook prerouting priority dstnat; policy accept;
\t\tip daddr . meta l4proto . th dport vmap @dispatch
\t}
\tchain pick {
\t\tip saddr @aff accept
\t}
\tchain spare {
\t}
}
`;

interface Case {
  name: string;
  input: string;
  /** A fragment of the listing after the transaction, or the refusal. */
  want: { lists: string; not?: string } | { refused: RegExp; line: number };
}

const cases: Case[] = [
  {
    name: 'elements are added and deleted by key; a chain comes and goes',
    input: 'add chain ip t pick2\nadd element ip t dispatch { 10.96.0.3 . udp . 53 comment "x" : goto pick2 }\ndelete element ip t dispatch { 10.96.0.2 . tcp . 80 }\ndelete chain ip t spare\n',
    want: { lists: '10.96.0.3 . udp . 53 comment "x" : goto pick2', not: 'chain spare' },
  },
  {
    name: 'a verdict element naming a missing chain is refused',
    input: 'add element ip t dispatch { 10.96.0.3 . udp . 53 : goto nowhere }\n',
    want: { refused: /No such file or directory \(verdict to chain nowhere\)/, line: 1 },
  },
  {
    name: 'a rule using a missing set is refused',
    input: 'add chain ip t c\nadd rule ip t c ip saddr @missing accept\n',
    want: { refused: /No such file or directory \(set missing\)/, line: 2 },
  },
  {
    name: 'a rule jumping to a missing chain is refused',
    input: 'add rule ip t spare jump nowhere\n',
    want: { refused: /No such file or directory \(jump to chain nowhere\)/, line: 1 },
  },
  {
    name: 'deleting a chain a map element goes to is refused',
    input: 'flush chain ip t pick\ndelete chain ip t pick\n',
    want: { refused: /Device or resource busy .*jumped to/, line: 2 },
  },
  {
    name: 'deleting a chain that has rules is refused',
    input: 'delete element ip t dispatch { 10.96.0.1 . tcp . 80 }\ndelete chain ip t pick\n',
    want: { refused: /Device or resource busy .*has 1 rule/, line: 2 },
  },
  {
    name: 'deleting a set a rule uses is refused',
    input: 'delete set ip t aff\n',
    want: { refused: /Device or resource busy \(set aff is used by a rule\)/, line: 1 },
  },
  {
    name: 'an element whose key is taken with other data is refused',
    input: 'add element ip t dispatch { 10.96.0.2 . tcp . 80 : accept }\n',
    want: { refused: /File exists/, line: 1 },
  },
  {
    name: 'deleting an element that is not there is refused',
    input: 'delete element ip t dispatch { 10.96.0.9 . tcp . 80 }\n',
    want: { refused: /No such file or directory \(element 10.96.0.9/, line: 1 },
  },
  {
    name: 'a key with the wrong number of fields is refused',
    input: 'add element ip t dispatch { 10.96.0.9 . 80 : drop }\n',
    want: { refused: /Invalid argument/, line: 1 },
  },
  {
    name: 'redefining a set in place is refused',
    input: 'add set ip t aff { type ipv4_addr; flags dynamic,timeout; timeout 60s; }\n',
    want: { refused: /File exists \(set aff\)/, line: 1 },
  },
  {
    name: 'a later refusal undoes the earlier commands of the transaction',
    input: 'delete element ip t dispatch { 10.96.0.2 . tcp . 80 }\nadd chain ip t new\nadd rule ip t new goto nowhere\n',
    want: { refused: /chain nowhere/, line: 3 },
  },
];

describe('NftRuleset (nft -f applied like the kernel)', () => {
  it.each(cases)('$name', (c) => {
    const r = new NftRuleset();
    r.apply(SEED);
    const before = r.listRuleset();
    if ('lists' in c.want) {
      r.apply(c.input);
      expect(r.list('ip', 't')).toContain(c.want.lists);
      if (c.want.not) expect(r.list('ip', 't')).not.toContain(c.want.not);
      return;
    }
    let err: unknown;
    try {
      r.apply(c.input);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NftTransactionError);
    expect((err as NftTransactionError).line).toBe(c.want.line);
    expect((err as Error).message).toMatch(c.want.refused);
    // Atomic: nothing of the transaction stayed.
    expect(r.listRuleset()).toBe(before);
  });

  it('lists what it reads back: a listing loaded into another ruleset lists the same', () => {
    const r = new NftRuleset();
    r.apply(SEED);
    const copy = new NftRuleset();
    copy.apply(r.listRuleset());
    expect(copy.listRuleset()).toBe(r.listRuleset());
    expect(r.view('ip', 't')!.maps.get('dispatch')!.get('10.96.0.1 . tcp . 80')).toBe('goto pick');
    expect(r.view('ip', 't')!.chains.get('hook')).toEqual(['ip daddr . meta l4proto . th dport vmap @dispatch']);
  });

  it('as a NetExec: nft -f, list table, delete table; a refusal exits 1 naming the line', async () => {
    const exec = new FakeNftExec();
    await exec.run({ file: 'nft', args: ['-f', '-'], input: SEED });
    expect((await exec.run({ file: 'nft', args: ['list', 'table', 'ip', 't'] })).stdout).toContain('chain pick {');
    const bad = await exec.run({ file: 'nft', args: ['-f', '-'], input: 'add rule ip t spare jump nowhere\n', allowFailure: true });
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toMatch(/^\/dev\/stdin:1: Error: Could not process rule/);
    await exec.run({ file: 'nft', args: ['delete', 'table', 'ip', 't'] });
    const gone = await exec.run({ file: 'nft', args: ['delete', 'table', 'ip', 't'], allowFailure: true });
    expect(gone.stderr).toMatch(/No such file or directory/);
    expect((await exec.run({ file: 'perl', args: ['-e', '1'], allowFailure: true })).exitCode).toBe(1);
  });
});
