/**
 * For unit tests only (not exported from the package): a NetExec that keeps IPVS mode's kernel
 * objects in memory and applies the tools' inputs to them (`ip -batch`, `ipset restore`,
 * `ipvsadm -R`; `iptables-restore` through the stateful iptables fake, which refuses what the
 * kernel refuses), and answers the reads the backend makes.
 */
import { FakeIptablesExec } from '@svcnet/backend-iptables/testing';
import type { ExecRequest, ExecResult, NetExec } from '@svcnet/netexec';

export class SimKernel implements NetExec {
  link = false;
  readonly addresses = new Set<string>();
  readonly sets = new Map<string, { type: string; members: Set<string> }>();
  /** `-A …` head → real server lines (`-a …`), in ipvsadm -Sn form. */
  readonly services = new Map<string, { head: string; reals: Map<string, string> }>();
  /** iptables-restore / -save (every variant) go here. */
  readonly iptables = new FakeIptablesExec();
  readonly calls: ExecRequest[] = [];

  async run(req: ExecRequest): Promise<ExecResult> {
    this.calls.push(req);
    const input = String(req.input ?? '');
    const lines = input.split('\n').filter((l) => l.trim() !== '');
    const ok = (stdout = ''): ExecResult => ({ stdout, stderr: '', exitCode: 0, durationMs: 0 });
    const key = [req.file, ...req.args].join(' ');
    if (key === 'ip -batch -') for (const l of lines) this.ip(l.split(' '));
    else if (key === 'ip -o addr show dev kube-ipvs0') {
      if (!this.link) return { stdout: '', stderr: 'Device "kube-ipvs0" does not exist.', exitCode: 1, durationMs: 0 };
      return ok([...this.addresses].map((a) => `7: kube-ipvs0    inet ${a}/32 scope global kube-ipvs0\n`).join(''));
    } else if (req.file === 'ipset' && req.args.includes('restore')) for (const l of lines) this.ipset(l.split(' '));
    else if (key === 'ipset save') return ok(this.ipsetSave());
    else if (key === 'ipvsadm -R') for (const l of lines) this.ipvsadm(l.split(' '));
    else if (key === 'ipvsadm -Sn') return ok([...this.services.values()].flatMap((s) => [s.head, ...s.reals.values()]).join('\n') + '\n');
    else if (/iptables(-\w+)?-(save|restore)$/.test(req.file)) return this.iptables.run(req);
    return ok();
  }

  private ip(f: string[]): void {
    if (f[0] === 'link' && f[1] === 'add') this.link = true;
    else if (f[0] === 'addr' && f[1] === 'add') this.addresses.add(f[2]!.split('/')[0]!);
    else if (f[0] === 'addr' && f[1] === 'del') this.addresses.delete(f[2]!.split('/')[0]!);
  }

  private ipset(f: string[]): void {
    const [op, name, arg] = f;
    if (op === 'create') this.sets.set(name!, { type: arg!, members: new Set() });
    else if (op === 'destroy') this.sets.delete(name!);
    else if (op === 'add') this.sets.get(name!)!.members.add(arg!);
    else if (op === 'del') this.sets.get(name!)!.members.delete(arg!);
  }

  private ipsetSave(): string {
    return [...this.sets].flatMap(([name, s]) => [`create ${name} ${s.type}`, ...[...s.members].map((m) => `add ${name} ${m}`)]).join('\n') + '\n';
  }

  private ipvsadm(f: string[]): void {
    const [op, proto, vip] = f;
    const vs = `${proto} ${vip}`;
    const rest = f.slice(3).join(' ');
    if (op === '-A' || op === '-E') this.services.set(vs, { head: `-A ${vs} ${rest}`, reals: this.services.get(vs)?.reals ?? new Map() });
    else if (op === '-D') this.services.delete(vs);
    else if (op === '-a' || op === '-e') this.services.get(vs)!.reals.set(f[4]!, `-a ${vs} ${rest}`);
    else if (op === '-d') this.services.get(vs)!.reals.delete(f[4]!);
  }

  /** Everything the kernel holds, as sorted text (for comparing two kernels). */
  dump(): string[] {
    const out = [`link ${this.link}`, ...[...this.addresses].map((a) => `addr ${a}`), ...this.ipsetSave().split('\n')];
    for (const s of this.services.values()) out.push(s.head, ...s.reals.values());
    // Rules sorted with the rest: IPVS mode's chains hold set matches, whose order does not matter.
    for (const variant of ['nft', 'legacy'] as const) {
      for (const table of ['nat', 'filter']) for (const [chain, rules] of this.iptables.tables[variant].chains(table)) out.push(`${variant} ${table} :${chain}`, ...rules.map((r) => `${variant} ${table} ${r}`));
    }
    return out.filter((l) => l !== '').sort();
  }
}
