import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parse, stringify } from 'yaml';

/** A configuration file that cannot be used; the message names the file and the field. */
export class ConfigFileError extends Error {
  override readonly name = 'ConfigFileError';
}

/** Options that never come from a file. */
const NOT_FROM_FILE = new Set(['config', 'write-config-to', 'help', 'version']);

/** The long names of a command's options that a file may set. */
function settable(command: Command): Map<string, { negate: boolean; takesValue: boolean }> {
  const out = new Map<string, { negate: boolean; takesValue: boolean }>();
  for (const o of command.options) {
    const long = o.long?.replace(/^--(no-)?/, '');
    if (!long || NOT_FROM_FILE.has(long)) continue;
    out.set(long, { negate: o.negate, takesValue: o.required || o.optional });
  }
  return out;
}

/** The `--config FILE` (or `--config=FILE`) given on a command line, if any. */
export function configFileArg(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--config') return argv[i + 1];
    if (a.startsWith('--config=')) return a.slice('--config='.length);
  }
  return undefined;
}

/**
 * A YAML configuration file as command-line arguments, to be parsed before the
 * real ones so that flags override the file (kube-proxy's precedence). Keys are
 * the flags' long names (`listen`, `nats-url`, `kv-replicas`…); the file also
 * names its `apiVersion` and `kind`. An unknown key, a wrong kind or a value of
 * the wrong shape is an error naming the file and the field.
 */
export function configFileArgv(params: { path: string; apiVersion: string; kind: string; command: Command; text?: string }): string[] {
  const { path } = params;
  let text = params.text;
  if (text === undefined) {
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new ConfigFileError(`--config ${path}: cannot be read: ${(err as Error).message}`);
    }
  }
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new ConfigFileError(`--config ${path}: not YAML: ${(err as Error).message}`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigFileError(`--config ${path}: expected a mapping of settings`);
  const fields = doc as Record<string, unknown>;
  if (fields['apiVersion'] !== params.apiVersion || fields['kind'] !== params.kind) {
    throw new ConfigFileError(
      `--config ${path}: apiVersion/kind must be ${params.apiVersion}/${params.kind} (found ${String(fields['apiVersion'])}/${String(fields['kind'])})`,
    );
  }
  const known = settable(params.command);
  const argv: string[] = [];
  for (const [key, value] of Object.entries(fields)) {
    if (key === 'apiVersion' || key === 'kind') continue;
    const opt = known.get(key);
    if (!opt) {
      throw new ConfigFileError(`--config ${path}: unknown field "${key}"; the fields are the flags' long names: ${[...known.keys()].sort().join(', ')}`);
    }
    if (!opt.takesValue) {
      if (typeof value !== 'boolean') throw new ConfigFileError(`--config ${path}: field "${key}" must be true or false`);
      if (value !== opt.negate) argv.push(`--${opt.negate ? 'no-' : ''}${key}`);
      continue;
    }
    if (Array.isArray(value)) argv.push(`--${key}=${value.map(String).join(',')}`);
    else if (typeof value === 'string' || typeof value === 'number') argv.push(`--${key}=${String(value)}`);
    else throw new ConfigFileError(`--config ${path}: field "${key}" must be a string, a number or a list`);
  }
  return argv;
}

/** The effective settings of a parsed command as a configuration file (`--write-config-to`). */
export function configFileText(params: { apiVersion: string; kind: string; command: Command }): string {
  const opts = params.command.opts<Record<string, unknown>>();
  const out: Record<string, unknown> = { apiVersion: params.apiVersion, kind: params.kind };
  for (const o of params.command.options) {
    const long = o.long?.replace(/^--(no-)?/, '');
    if (!long || NOT_FROM_FILE.has(long)) continue;
    const value = opts[o.attributeName()];
    if (value === undefined) continue;
    out[long] = value;
  }
  return stringify(out);
}

/** Writes {@link configFileText} to `path` (0600: it may name credential files). */
export function writeConfigFile(path: string, params: { apiVersion: string; kind: string; command: Command }): void {
  writeFileSync(path, configFileText(params), { mode: 0o600 });
}

/**
 * Adds `--config FILE` and `--write-config-to FILE`, and parses argv with the
 * file's settings first (flags override the file). With `--write-config-to`,
 * writes the effective settings and exits 0. A bad file exits 1 naming it.
 */
export function parseWithConfigFile(
  command: Command,
  params: { program: string; apiVersion: string; kind: string; argv?: readonly string[] },
): void {
  command
    .option('--config <file>', `a ${params.kind} (${params.apiVersion}) YAML file: keys are these flags' long names; flags override it`)
    .option('--write-config-to <file>', 'write the effective configuration to this file and exit');
  const argv = [...(params.argv ?? process.argv.slice(2))];
  let fromFile: string[] = [];
  const file = configFileArg(argv);
  try {
    if (file) fromFile = configFileArgv({ path: file, apiVersion: params.apiVersion, kind: params.kind, command });
  } catch (err) {
    process.stderr.write(`${params.program}: ${(err as Error).message}\n`);
    process.exit(1);
  }
  command.parse([...fromFile, ...argv], { from: 'user' });
  const target = command.opts<{ writeConfigTo?: string }>().writeConfigTo;
  if (target) {
    writeConfigFile(target, { apiVersion: params.apiVersion, kind: params.kind, command });
    process.exit(0);
  }
}
