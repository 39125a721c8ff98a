import { buildEndpoints, buildService } from '@svcnet/proxy-core/testing';
import { describe, expect, it } from 'vitest';
import { ContentCheck } from './content-check.js';
import { describePlan } from './plan.js';
import { renderIptablesPlan } from './render.js';
import { parseSave } from './save-parser.js';
import { JUMP_RULES } from './jump-rules.js';
import { NODE, stateOf } from './test-fixtures.js';

const plan = renderIptablesPlan({
  state: stateOf(
    [buildService({ namespace: 'ns1', name: 'svc1', clusterIP: '172.30.0.41', ports: [{ name: 'p80', port: 80 }] })],
    [buildEndpoints({ namespace: 'ns1', name: 'svc1', addresses: ['10.180.0.1@n1', '10.180.2.1@n2'], ports: [{ name: 'p80', port: 80 }] })],
  ),
  config: NODE,
  full: true,
  changed: new Set(),
  lastApplied: undefined,
});

/** The kernel as iptables-save would print it after applying the plan (our text plus the jump rules). */
function kernelText(edit: (text: string) => string = (t) => t): string {
  const jumps = (table: string) => JUMP_RULES.filter((j) => j.table === table).map((j) => `-A ${j.chain} ${j.spec}`);
  const text = describePlan(plan)
    .replace('*nat\n', `*nat\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n${jumps('nat').join('\n')}\n`)
    .replace('*filter\n', `*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n${jumps('filter').join('\n')}\n`);
  return edit(text);
}

const CASES: { name: string; edit: (t: string) => string; chain?: RegExp }[] = [
  { name: 'untouched', edit: (t) => t },
  { name: 'DNAT rewritten to another pod', edit: (t) => t.replace('--to-destination 10.180.2.1:80', '--to-destination 10.180.9.9:80'), chain: /^KUBE-SEP-/ },
  { name: 'a rule deleted from a service chain', edit: (t) => t.replace(/^-A KUBE-SVC-\S+ .*probability.*\n/m, ''), chain: /^KUBE-SVC-/ },
  { name: 'a chain gone', edit: (t) => t.replace(/^:KUBE-MARK-MASQ.*\n/m, '').replace(/^-A KUBE-MARK-MASQ.*\n/m, ''), chain: /^KUBE-MARK-MASQ$/ },
  { name: 'a jump rule gone', edit: (t) => t.replace(/^-A OUTPUT .*KUBE-SERVICES\n/m, ''), chain: /^OUTPUT$/ },
  {
    name: 'rules of KUBE-SERVICES in another order (edited in place: compared as a set)',
    edit: (t) => t.replace(/^(-A KUBE-SERVICES .*cluster IP.*)\n(-A KUBE-SERVICES .*nodeports.*)$/m, '$2\n$1'),
  },
];

describe('ContentCheck', () => {
  it.each(CASES)('$name', ({ name, edit, chain }) => {
    if (name !== 'untouched') expect(edit(kernelText()), 'the case must change the kernel text').not.toBe(kernelText());
    const found = new ContentCheck().check(parseSave(kernelText(edit)), plan);
    if (chain) expect(found?.chain).toMatch(chain);
    else expect(found).toBeUndefined();
  });

  it('remembers a verified chain by digest and still sees a later in-place rewrite', () => {
    const check = new ContentCheck();
    expect(check.check(parseSave(kernelText()), plan)).toBeUndefined();
    expect(check.check(parseSave(kernelText()), plan)).toBeUndefined();
    const found = check.check(parseSave(kernelText((t) => t.replace('--to-destination 10.180.0.1:80', '--to-destination 10.180.0.7:80'))), plan);
    expect(found?.reason).toContain('10.180.0.7:80');
    // Repaired: clean again.
    expect(check.check(parseSave(kernelText()), plan)).toBeUndefined();
  });
});
