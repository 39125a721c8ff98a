import { describe, expect, it } from 'vitest';
import { alignTabs, DESCRIBE_LAYOUT, StreamingTable, TABLE_LAYOUT } from './tabwriter.js';

describe('alignTabs (Go text/tabwriter semantics)', () => {
  const cases: { name: string; input: string; layout: typeof TABLE_LAYOUT; want: string }[] = [
    {
      name: 'table layout adds 3 to the widest cell, min width 6',
      input: 'NAME\tTYPE\tIP\tAGE\nkubernetes\tClusterIP\t-\t5d\n',
      layout: TABLE_LAYOUT,
      want: 'NAME         TYPE        IP    AGE\nkubernetes   ClusterIP   -     5d\n',
    },
    {
      name: 'the last cell of a line is never padded',
      input: 'a\tb\nlonger-cell\tc\n',
      layout: DESCRIBE_LAYOUT,
      want: 'a            b\nlonger-cell  c\n',
    },
    {
      name: 'a line without tabs ends the column block',
      input: 'Name:\tx\nIPs:\n  IP:\t10.0.0.1\n',
      layout: DESCRIBE_LAYOUT,
      want: 'Name:  x\nIPs:\n  IP:  10.0.0.1\n',
    },
    {
      name: 'a second column only spans the lines that have it',
      input: 'Type:\tClusterIP\nPort:\t<unset>\t6379/TCP\nTargetPort:\t6379/TCP\n',
      layout: DESCRIBE_LAYOUT,
      want: 'Type:        ClusterIP\nPort:        <unset>  6379/TCP\nTargetPort:  6379/TCP\n',
    },
    {
      name: 'empty cells are padded too',
      input: 'Labels:\ta=1\n\tb=2\n',
      layout: DESCRIBE_LAYOUT,
      want: 'Labels:  a=1\n         b=2\n',
    },
  ];
  it.each(cases)('$name', ({ input, layout, want }) => {
    expect(alignTabs(input, layout)).toBe(want);
  });
});

describe('StreamingTable (kubectl RememberWidths)', () => {
  it('keeps earlier widths and widens for longer cells, never shrinking', () => {
    const t = new StreamingTable();
    expect(t.render([['NAME', 'READY', 'AGE'], ['a', '1/1', '5s']])).toBe('NAME   READY   AGE\na      1/1     5s\n');
    expect(t.render([['a-much-longer-name', '0/1', '6s']])).toBe('a-much-longer-name   0/1     6s\n');
    expect(t.render([['b', '1/1', '7s']])).toBe('b                    1/1     7s\n');
  });
});
