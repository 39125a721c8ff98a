import { describe, expect, it } from 'vitest';
import { FakeIptablesExec } from './fake-iptables-exec.js';
import { IptablesRestoreError, IptablesTables } from './iptables-tables.js';

const SEED = ['*nat', ':KUBE-SERVICES - [0:0]', ':KUBE-SVC-A - [0:0]', ':KEEP - [0:0]', '-A KUBE-SERVICES -d 10.96.0.1/32 -j KUBE-SVC-A', '-A KUBE-SVC-A -j DNAT --to-destination 10.244.1.2:80', '-A KEEP -j RETURN', '-A PREROUTING -j KUBE-SERVICES', 'COMMIT', ''].join('\n');

interface Case {
  name: string;
  input: string[];
  noflush?: boolean;
  /** nat rules after the restore, or the refused line. */
  want: string[] | { failsAt: number; reason: RegExp };
}

const cases: Case[] = [
  {
    name: '--noflush: a declared chain is flushed and refilled, others are kept',
    input: ['*nat', ':KUBE-SVC-A - [0:0]', '-A KUBE-SVC-A -j DNAT --to-destination 10.244.1.3:80', 'COMMIT'],
    noflush: true,
    want: ['-A PREROUTING -j KUBE-SERVICES', '-A KEEP -j RETURN', '-A KUBE-SERVICES -d 10.96.0.1/32 -j KUBE-SVC-A', '-A KUBE-SVC-A -j DNAT --to-destination 10.244.1.3:80'],
  },
  {
    name: 'without --noflush the table is replaced',
    input: ['*nat', ':KUBE-SERVICES - [0:0]', 'COMMIT'],
    want: [],
  },
  {
    name: '-D and -I edit in place, -X deletes an emptied unreferenced chain',
    input: ['*nat', ':KUBE-SVC-A - [0:0]', '-D KUBE-SERVICES -d 10.96.0.1/32 -j KUBE-SVC-A', '-I KUBE-SERVICES 1 -d 10.96.0.2/32 -j KEEP', '-X KUBE-SVC-A', 'COMMIT'],
    noflush: true,
    want: ['-A PREROUTING -j KUBE-SERVICES', '-A KEEP -j RETURN', '-A KUBE-SERVICES -d 10.96.0.2/32 -j KEEP'],
  },
  {
    name: 'a jump to a chain that does not exist is refused',
    input: ['*nat', ':KUBE-SVC-B - [0:0]', '-A KUBE-SERVICES -j KUBE-SVC-B', '-A KUBE-SERVICES -j KUBE-SVC-C', 'COMMIT'],
    noflush: true,
    want: { failsAt: 4, reason: /Couldn't load target `KUBE-SVC-C'/ },
  },
  {
    name: 'deleting a chain still referenced is refused',
    input: ['*nat', ':KUBE-SVC-A - [0:0]', '-X KUBE-SVC-A', 'COMMIT'],
    noflush: true,
    want: { failsAt: 3, reason: /still referenced.*Too many links/ },
  },
  {
    name: 'deleting a chain that still has rules is refused',
    input: ['*nat', '-D KUBE-SERVICES -d 10.96.0.1/32 -j KUBE-SVC-A', '-X KUBE-SVC-A', 'COMMIT'],
    noflush: true,
    want: { failsAt: 3, reason: /not empty/ },
  },
  {
    name: 'deleting a rule that is not there is refused',
    input: ['*nat', '-D KUBE-SERVICES -d 10.96.0.9/32 -j KUBE-SVC-A', 'COMMIT'],
    noflush: true,
    want: { failsAt: 2, reason: /Bad rule/ },
  },
  {
    name: 'a target outside its table is refused (REJECT is filter only)',
    input: ['*nat', '-A KEEP -j REJECT', 'COMMIT'],
    noflush: true,
    want: { failsAt: 2, reason: /REJECT is not valid in table 'nat'/ },
  },
  {
    name: 'an insertion past the end is refused',
    input: ['*nat', '-I KEEP 3 -j RETURN', 'COMMIT'],
    noflush: true,
    want: { failsAt: 2, reason: /Index of insertion too big/ },
  },
  {
    name: 'a chain name over 28 characters is refused',
    input: ['*nat', ':KUBE-SVC-ABCDEFGHIJKLMNOPQRSTU - [0:0]', 'COMMIT'],
    noflush: true,
    want: { failsAt: 2, reason: /too long/ },
  },
  {
    name: 'a block without COMMIT is refused',
    input: ['*nat', '-A KEEP -j RETURN'],
    noflush: true,
    want: { failsAt: 2, reason: /COMMIT expected/ },
  },
];

function natRules(t: IptablesTables): string[] {
  return [...t.chains('nat').values()].flat();
}

describe('IptablesTables (iptables-restore applied like the kernel)', () => {
  it.each(cases)('$name', (c) => {
    const t = new IptablesTables();
    t.restore(SEED, { noflush: false });
    const before = t.save();
    const run = () => t.restore(c.input.join('\n') + '\n', { noflush: c.noflush ?? false });
    if (Array.isArray(c.want)) {
      run();
      expect(natRules(t)).toEqual(c.want);
    } else {
      const err = (() => {
        try {
          run();
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(err).toBeInstanceOf(IptablesRestoreError);
      expect((err as IptablesRestoreError).line).toBe(c.want.failsAt);
      expect((err as Error).message).toMatch(c.want.reason);
      // The failing table's transaction changed nothing.
      expect(t.save()).toBe(before);
    }
  });

  it('commits per table: a failure in the second table keeps the first table committed', () => {
    const t = new IptablesTables();
    const input = ['*nat', ':KUBE-A - [0:0]', 'COMMIT', '*filter', '-A INPUT -j KUBE-MISSING', 'COMMIT', ''].join('\n');
    expect(() => t.restore(input, { noflush: true })).toThrow(/line 5 failed/);
    expect(t.chains('nat').has('KUBE-A')).toBe(true);
    expect(t.save('filter')).toBe('');
  });

  it('save prints what restore reads back to the same tables', () => {
    const t = new IptablesTables();
    t.restore(SEED, { noflush: false });
    const copy = new IptablesTables();
    copy.restore(t.save(), { noflush: false });
    expect(copy.save()).toBe(t.save());
    expect(t.save()).toContain(':PREROUTING ACCEPT [0:0]\n');
  });

  it('as a NetExec: variants are separate, a refused restore exits 1 naming the line, save -t reads one table', async () => {
    const exec = new FakeIptablesExec();
    await exec.run({ file: 'iptables-nft-restore', args: ['-w', '--noflush'], input: SEED });
    expect((await exec.run({ file: 'iptables-nft-save', args: ['-t', 'nat'] })).stdout).toContain('-A KUBE-SVC-A');
    expect((await exec.run({ file: 'iptables-legacy-save', args: [] })).stdout).toBe('');
    const r = await exec.run({ file: 'iptables-nft-restore', args: ['--noflush'], input: '*nat\n-A KEEP -j NOPE\nCOMMIT\n', allowFailure: true });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/line 2 failed/);
    await expect(exec.run({ file: 'iptables-nft-restore', args: ['--noflush'], input: '*nat\n-A KEEP -j NOPE\nCOMMIT\n' })).rejects.toThrow(/line 2 failed/);
    expect((await exec.run({ file: 'conntrack', args: ['-D'], allowFailure: true })).exitCode).toBe(1);
  });
});
