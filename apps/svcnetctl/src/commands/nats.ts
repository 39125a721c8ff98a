/**
 * `svcnetctl nats init|issue`: NATS decentralized authentication for an
 * installation (libs/nats-auth): the servers' auth block, one credentials file
 * per program (per node for agents), and the signing seeds to add users later.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateNatsAuth, issueNatsUser, NatsRole, type NatsAuthBundle } from '@svcnet/nats-auth';
import { UsageError } from '../cli-errors.js';
import type { CliIo } from './context.js';

export interface NatsInitOptions {
  dir: string;
  nodes?: string;
  dns?: boolean;
  force?: boolean;
}

export interface NatsIssueOptions {
  dir: string;
  role: string;
  node?: string;
}

/** File names inside `--dir`. */
export const NatsAuthFiles = {
  /** nats-server configuration lines (operator, system account, preloaded accounts): `include` it. */
  serverConfig: 'auth.conf',
  /** The operator and account seeds: whoever holds them can sign users. Keep them off the hosts. */
  seeds: 'seeds.json',
  creds: (user: string): string => `${user}.creds`,
} as const;

function splitNodes(text: string | undefined): string[] {
  return (text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function writeSecret(path: string, text: string): void {
  writeFileSync(path, text, { mode: 0o600 });
  chmodSync(path, 0o600); // an existing file keeps its mode on write
}

export async function runNatsInit(io: CliIo, o: NatsInitOptions): Promise<void> {
  const seedsPath = join(o.dir, NatsAuthFiles.seeds);
  if (existsSync(seedsPath) && !o.force) {
    throw new UsageError(`${seedsPath} exists: an installation is already set up there (add users with svcnetctl nats issue, or pass --force to replace every key)`);
  }
  let bundle: NatsAuthBundle;
  try {
    bundle = await generateNatsAuth({ nodes: splitNodes(o.nodes), dns: o.dns !== false });
  } catch (err) {
    throw new UsageError(`--nodes: ${(err as Error).message}`);
  }
  mkdirSync(o.dir, { recursive: true, mode: 0o700 });
  writeSecret(seedsPath, `${JSON.stringify(bundle.seeds, null, 2)}\n`);
  // The server reads this one; it holds public JWTs only.
  writeFileSync(join(o.dir, NatsAuthFiles.serverConfig), bundle.serverConfig, { mode: 0o644 });
  io.stdout(`[nats] server configuration: ${join(o.dir, NatsAuthFiles.serverConfig)} (include it in nats-server.conf)\n`);
  for (const u of bundle.users) {
    const path = join(o.dir, NatsAuthFiles.creds(u.user));
    writeSecret(path, u.creds);
    io.stdout(`[nats] ${u.user}: ${path}\n`);
  }
  io.stdout(`[nats] signing seeds: ${seedsPath} (keep them off the hosts that run svcnet)\n`);
}

export async function runNatsIssue(io: CliIo, o: NatsIssueOptions): Promise<void> {
  const seedsPath = join(o.dir, NatsAuthFiles.seeds);
  let seeds: NatsAuthBundle['seeds'];
  try {
    seeds = JSON.parse(readFileSync(seedsPath, 'utf8')) as NatsAuthBundle['seeds'];
  } catch (err) {
    throw new UsageError(`--dir ${o.dir}: cannot read ${seedsPath} (made by svcnetctl nats init): ${(err as Error).message}`);
  }
  if (typeof seeds?.account !== 'string') throw new UsageError(`${seedsPath}: no account seed`);
  const roles = Object.values(NatsRole) as string[];
  if (!roles.includes(o.role)) throw new UsageError(`--role ${o.role}: one of ${roles.join(', ')}`);
  let user;
  try {
    user = await issueNatsUser({ accountSeed: seeds.account, role: o.role as NatsRole, ...(o.node ? { node: o.node } : {}) });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const path = join(o.dir, NatsAuthFiles.creds(user.user));
  writeSecret(path, user.creds);
  io.stdout(`[nats] ${user.user}: ${path}\n`);
}
