import { NetExecError } from '@svcnet/netexec';
import type { NetExec } from '@svcnet/netexec';
import { buildEndpoints, buildService } from '@svcnet/proxy-core/testing';
import { describe, expect, it } from 'vitest';
import { IptablesBackend } from './iptables-backend.js';
import { JUMP_RULES, jumpInsertLine } from './jump-rules.js';
import { listTableFirstPays, sectionText } from './render.js';
import type { RestoreSection } from './plan.js';
import { NODE, stateOf } from './test-fixtures.js';

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

describe('IptablesBackend with iptables-nft: a refused -S line turns listing off, other failures do not', () => {
  const big = stateOf(
    Array.from({ length: 600 }, (_, k) => buildService({ namespace: 'b', name: `s${k}`, clusterIP: `10.96.${k >> 8}.${k & 255}` })),
    Array.from({ length: 600 }, (_, k) => buildEndpoints({ namespace: 'b', name: `s${k}`, addresses: [1, 2, 3, 4, 5].map((j) => `10.${100 + j}.${k >> 8}.${k & 255}@n1`) })),
  );
  const EMPTY = '*nat\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n';
  const CASES = [
    { name: 'the -S line refused', failAt: (lines: string[]) => lines.indexOf('-S') + 1, listsAfter: false },
    { name: 'another line refused', failAt: (lines: string[]) => lines.length - 2, listsAfter: true },
  ];
  it.each(CASES)('$name', async ({ failAt, listsAfter }) => {
    const restores: string[] = [];
    const exec: NetExec = {
      run: async (req) => {
        if (req.file.endsWith('-save')) return { stdout: EMPTY, stderr: '', exitCode: 0, durationMs: 0 };
        const input = String(req.input);
        restores.push(input);
        if (restores.length === 1) {
          const n = failAt(input.split('\n'));
          throw new NetExecError({ command: req.file, exitCode: 2, stderr: `iptables-nft-restore v1.8.9 (nf_tables): \nline ${n}: something failed` });
        }
        return { stdout: '', stderr: '', exitCode: 0, durationMs: 0 };
      },
    };
    const b = new IptablesBackend({ exec, variant: 'nft', conntrack: false });
    const plan = b.render({ state: big, config: NODE, full: true, changed: new Set(), lastApplied: undefined });
    await expect(b.apply(plan)).rejects.toThrow(/something failed/);
    expect(restores[0]!.split('\n')).toContain('-S');
    await b.apply(plan);
    expect(restores[1]!.split('\n').includes('-S')).toBe(listsAfter);
  });
});
