import { describe, expect, it } from 'vitest';
import { JUMP_RULES, jumpInsertLine } from './jump-rules.js';
import { listTableFirstPays, sectionText } from './render.js';
import type { RestoreSection } from './render.js';

const section: RestoreSection = {
  declare: ['KUBE-SVC-A', 'KUBE-SERVICES', 'KUBE-SEP-A', 'KUBE-POSTROUTING'],
  rules: [['-A KUBE-SVC-A -j KUBE-SEP-A'], ['-A KUBE-SERVICES -d 10.96.0.1/32 -j KUBE-SVC-A'], ['-A KUBE-SEP-A -j DNAT --to-destination 10.244.1.2:80'], []],
  edits: [],
  deleteChains: ['KUBE-SEP-OLD'],
};
const jumps = JUMP_RULES.filter((j) => j.table === 'nat').map(jumpInsertLine);

describe('sectionText listing the table first (iptables-nft bulk restores)', () => {
  it('puts the jump rules and their target chains before -S, everything else after it', () => {
    const lines = sectionText('nat', section, { jumps, listTableFirst: true }).split('\n');
    const s = lines.indexOf('-S');
    expect(lines.slice(1, s)).toEqual([':KUBE-SERVICES - [0:0]', ':KUBE-POSTROUTING - [0:0]', ...jumps]);
    expect(lines.slice(s + 1, s + 4)).toEqual([':KUBE-SVC-A - [0:0]', ':KUBE-SEP-A - [0:0]', ':KUBE-SEP-OLD - [0:0]']);
    expect(lines.filter((l) => l.startsWith(':KUBE-SERVICES '))).toHaveLength(1);
    expect(lines.at(-3)).toBe('-X KUBE-SEP-OLD');
  });

  it('without the option the input is unchanged: no -S, jump rules last', () => {
    const lines = sectionText('nat', section, { jumps }).split('\n');
    expect(lines).not.toContain('-S');
    expect(lines.slice(-2 - jumps.length, -2)).toEqual(jumps);
  });
});

describe('listTableFirstPays', () => {
  const big = (chains: number): RestoreSection => ({
    declare: Array.from({ length: chains }, (_, i) => `KUBE-SEP-${i}`),
    rules: Array.from({ length: chains }, (_, i) => [`-A KUBE-SEP-${i} -j DNAT --to-destination 10.0.0.1:80`, `-A KUBE-SEP-${i} -s 10.0.0.1/32 -j KUBE-MARK-MASQ`]),
    edits: [],
    deleteChains: [],
  });
  const CASES = [
    { name: 'a 10,000-service first sync into an empty table', s: big(60_000), tableRules: 0, pays: true },
    { name: 'a 10,000-service full resync over the same rules', s: big(60_000), tableRules: 170_000, pays: true },
    { name: 'a one-service change at 10,000 services', s: big(6), tableRules: 170_000, pays: false },
    { name: 'a 500-service change at 10,000 services', s: big(3_000), tableRules: 170_000, pays: false },
    { name: 'a small first sync', s: big(60), tableRules: 0, pays: false },
  ];
  it.each(CASES)('$name', ({ s, tableRules, pays }) => {
    expect(listTableFirstPays(s, { tableRules: () => tableRules })).toBe(pays);
  });
});
