import { encodeAccount, encodeOperator, encodeUser, fmtCreds } from '@nats-io/jwt';
import { createAccount, createOperator, createUser, fromSeed, type KeyPair } from '@nats-io/nkeys';
import { natsUserName, NatsRole, rolePermissions, type NatsPermissions } from './permissions.js';

/** The NATS account every svcnet program lives in. */
export const SVCNET_ACCOUNT = 'SVCNET';

/** One user's credentials: a `.creds` file's text (user JWT + nkey seed), as `nats --creds` reads. */
export interface UserCredentials {
  user: string;
  role: NatsRole;
  /** The node, for agents. */
  node?: string;
  permissions: NatsPermissions;
  creds: string;
}

/** Everything generated for one installation. */
export interface NatsAuthBundle {
  /** The server configuration lines for decentralized auth (operator, resolver, preloaded accounts). */
  serverConfig: string;
  users: UserCredentials[];
  /** Seeds to sign more users later (keep them off the hosts that run svcnet). */
  seeds: { operator: string; systemAccount: string; account: string };
}

export interface GenerateNatsAuthParams {
  /** Node names: one agent user each. */
  nodes: readonly string[];
  /** Also a user for svcnet-dns (default true). */
  dns?: boolean;
  /** Reuse existing signing seeds (adding users to an installation); new ones otherwise. */
  seeds?: NatsAuthBundle['seeds'];
}

const dec = new TextDecoder();
const enc = new TextEncoder();

function seedOf(kp: KeyPair): string {
  return dec.decode(kp.getSeed());
}

/** One user of `role` signed by the account key. */
async function signUser(account: KeyPair, role: NatsRole, node?: string): Promise<UserCredentials> {
  const user = natsUserName(role, node);
  const permissions = rolePermissions(role, user);
  const ukp = createUser();
  const jwt = await encodeUser(user, ukp, account, {
    pub: { allow: permissions.publish, deny: [] },
    sub: { allow: permissions.subscribe, deny: [] },
  });
  return { user, role, ...(node ? { node } : {}), permissions, creds: dec.decode(fmtCreds(jwt, ukp)) };
}

/** Node names become NATS user names and file names: DNS-1123 labels/subdomains only. */
const NODE_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

/**
 * Signs one more user for an existing installation with its account seed (a
 * new node's agent, a replaced program): no server change is needed, since the
 * servers trust every user the account signs.
 */
export async function issueNatsUser(params: { accountSeed: string; role: NatsRole; node?: string }): Promise<UserCredentials> {
  if (!Object.values(NatsRole).includes(params.role)) {
    throw new Error(`role ${JSON.stringify(params.role)}: one of ${Object.values(NatsRole).join(', ')}`);
  }
  if (params.role === NatsRole.Agent && !(params.node && NODE_NAME.test(params.node))) {
    throw new Error(`an agent user needs its node name (a DNS-1123 subdomain), got ${JSON.stringify(params.node ?? '')}`);
  }
  if (params.role !== NatsRole.Agent && params.node) throw new Error(`only agent users belong to a node (role ${params.role})`);
  let account: KeyPair;
  try {
    account = fromSeed(enc.encode(params.accountSeed));
  } catch (err) {
    throw new Error(`the account seed is not an nkey seed: ${(err as Error).message}`, { cause: err });
  }
  if (!account.getPublicKey().startsWith('A')) throw new Error('the account seed is not an account key (it must start with SA)');
  return signUser(account, params.role, params.node);
}

/**
 * Generates NATS decentralized authentication for svcnet, as `nsc` would: an
 * operator, a system account, the SVCNET account with JetStream enabled, and
 * one user per program (per node for agents) holding only its role's
 * permissions. Servers need {@link NatsAuthBundle.serverConfig}; each program
 * gets only its own `.creds`.
 */
export async function generateNatsAuth(params: GenerateNatsAuthParams): Promise<NatsAuthBundle> {
  const operator = params.seeds ? fromSeed(enc.encode(params.seeds.operator)) : createOperator();
  const system = params.seeds ? fromSeed(enc.encode(params.seeds.systemAccount)) : createAccount();
  const account = params.seeds ? fromSeed(enc.encode(params.seeds.account)) : createAccount();
  const operatorJwt = await encodeOperator('svcnet', operator, { system_account: system.getPublicKey() });
  const systemJwt = await encodeAccount('SYS', system, {}, { signer: operator });
  // JetStream limits -1 = unlimited for the account (the servers' own limits still apply).
  const accountJwt = await encodeAccount(
    SVCNET_ACCOUNT,
    account,
    {
      limits: {
        subs: -1,
        data: -1,
        payload: -1,
        imports: -1,
        exports: -1,
        wildcards: true,
        conn: -1,
        leaf: -1,
        mem_storage: -1,
        disk_storage: -1,
        streams: -1,
        consumer: -1,
      },
    },
    { signer: operator },
  );
  for (const node of params.nodes) if (!NODE_NAME.test(node)) throw new Error(`node ${JSON.stringify(node)}: a DNS-1123 subdomain`);
  const wanted: { role: NatsRole; node?: string }[] = [
    { role: NatsRole.Allocator },
    { role: NatsRole.State },
    ...(params.dns === false ? [] : [{ role: NatsRole.Dns }]),
    { role: NatsRole.Admin },
    ...params.nodes.map((node) => ({ role: NatsRole.Agent, node })),
  ];
  const users: UserCredentials[] = [];
  for (const w of wanted) users.push(await signUser(account, w.role, w.node));
  const serverConfig = [
    '# svcnet: decentralized authentication (operator, accounts preloaded; no resolver to reach)',
    `operator: ${operatorJwt}`,
    `system_account: ${system.getPublicKey()}`,
    'resolver: MEMORY',
    'resolver_preload: {',
    `  ${system.getPublicKey()}: ${systemJwt}`,
    `  ${account.getPublicKey()}: ${accountJwt}`,
    '}',
    '',
  ].join('\n');
  return {
    serverConfig,
    users,
    seeds: { operator: seedOf(operator), systemAccount: seedOf(system), account: seedOf(account) },
  };
}
