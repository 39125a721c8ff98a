/**
 * What the install test needs to run the programs the way deploy/'s systemd
 * units would, without systemd: the unit's ExecStart, EnvironmentFile, User
 * and capabilities, turned into `env -i … setpriv … -- <ExecStart>`.
 */

/** The parts of a unit's [Service] section the test acts on. */
export interface ServiceUnit {
  execStart: string[];
  environmentFiles: { path: string; optional: boolean }[];
  user?: string;
  group?: string;
  capabilityBoundingSet: string[];
  ambientCapabilities: string[];
  noNewPrivileges: boolean;
}

/** Reads the [Service] section of a unit file (one line per setting, no continuations). */
export function parseServiceUnit(text: string): ServiceUnit {
  const unit: ServiceUnit = { execStart: [], environmentFiles: [], capabilityBoundingSet: [], ambientCapabilities: [], noNewPrivileges: false };
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = header[1]!;
      continue;
    }
    if (section !== 'Service') continue;
    const eq = line.indexOf('=');
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    switch (key) {
      case 'ExecStart':
        // An empty assignment resets the list (drop-ins); the last one wins for Type=simple.
        unit.execStart = value ? value.split(/\s+/) : [];
        break;
      case 'EnvironmentFile':
        unit.environmentFiles.push({ path: value.replace(/^-/, ''), optional: value.startsWith('-') });
        break;
      case 'User':
        unit.user = value;
        break;
      case 'Group':
        unit.group = value;
        break;
      case 'CapabilityBoundingSet':
        unit.capabilityBoundingSet = value.split(/\s+/).filter(Boolean);
        break;
      case 'AmbientCapabilities':
        unit.ambientCapabilities = value.split(/\s+/).filter(Boolean);
        break;
      case 'NoNewPrivileges':
        unit.noNewPrivileges = value === 'yes' || value === 'true';
        break;
      default:
        break;
    }
  }
  return unit;
}

/** KEY=value lines of an EnvironmentFile (comments and blank lines skipped). */
export function parseEnvironmentFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new Error(`environment file line ${JSON.stringify(line)}: KEY=value expected`);
    env[line.slice(0, eq)] = line.slice(eq + 1).replace(/^"(.*)"$/, '$1');
  }
  return env;
}

/** systemd's ExecStart expansion: `$VAR` becomes that many words (none when empty), `${VAR}` one word. */
export function expandExecStart(argv: readonly string[], env: Record<string, string>): string[] {
  return argv.flatMap((word) => {
    const whole = /^\$([A-Za-z_][A-Za-z0-9_]*)$/.exec(word);
    if (whole) return (env[whole[1]!] ?? '').split(/\s+/).filter(Boolean);
    return [word.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => env[name] ?? '')];
  });
}

const capName = (c: string): string => c.replace(/^CAP_/, '').toLowerCase();

/**
 * The unit's identity and privileges as a setpriv(1) prefix: its user (mapped
 * to a uid here), its capability bounding set, and no-new-privileges.
 */
export function setprivPrefix(unit: ServiceUnit, uids: Record<string, number>): string[] {
  const out = ['setpriv'];
  if (unit.user && unit.user !== 'root') {
    const uid = uids[unit.user];
    if (uid === undefined) throw new Error(`no uid for unit user ${unit.user}`);
    const gid = uids[unit.group ?? unit.user] ?? uid;
    out.push(`--reuid=${uid}`, `--regid=${gid}`, '--clear-groups');
  }
  const caps = unit.capabilityBoundingSet.map(capName);
  out.push(`--bounding-set=-all${caps.map((c) => `,+${c}`).join('')}`);
  if (unit.user && unit.user !== 'root' && unit.ambientCapabilities.length > 0) {
    const ambient = unit.ambientCapabilities.map((c) => `+${capName(c)}`).join(',');
    out.push(`--inh-caps=${ambient}`, `--ambient-caps=${ambient}`);
  }
  if (unit.noNewPrivileges) out.push('--no-new-privs');
  out.push('--');
  return out;
}

/** Replaces every `from` with its `to` in one pass, longest match first (so /etc/svcnet/pki goes before /etc). */
export function rewrite(text: string, replacements: Record<string, string>): string {
  const keys = Object.keys(replacements).sort((a, b) => b.length - a.length);
  if (keys.length === 0) return text;
  const pattern = new RegExp(keys.map((k) => k.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g');
  return text.replace(pattern, (m) => replacements[m]!);
}
