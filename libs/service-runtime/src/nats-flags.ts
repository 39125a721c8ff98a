import type { Command } from 'commander';

/** NATS connection flags as parsed by commander. */
export interface NatsFlagValues {
  natsUrl: string;
  natsCreds?: string;
  natsCa?: string;
  natsCert?: string;
  natsKey?: string;
}

/** What a program passes on to the store connection. */
export interface NatsConnectSettings {
  url: string;
  credsFile?: string;
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
}

export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';

/**
 * Adds the NATS connection flags every svcnet program shares, with the NATS
 * tools' environment variables as defaults (`NATS_URL`, `NATS_CREDS`, `NATS_CA`,
 * `NATS_CERT`, `NATS_KEY`): a flag beats the environment, the environment beats
 * the built-in default.
 */
export function addNatsFlags(cmd: Command, env: NodeJS.ProcessEnv = process.env): Command {
  const fromEnv = (name: string): string | undefined => (env[name] ? env[name] : undefined);
  cmd
    .option('--nats-url <urls>', 'NATS server URL(s), comma-separated: every server of a cluster [$NATS_URL]', fromEnv('NATS_URL') ?? DEFAULT_NATS_URL)
    .option('--nats-creds <file>', "NATS credentials file (user JWT + nkey seed) with this program's own rights [$NATS_CREDS]", fromEnv('NATS_CREDS'))
    .option('--nats-ca <file>', 'CA bundle for TLS to NATS (turns TLS on) [$NATS_CA]', fromEnv('NATS_CA'))
    .option('--nats-cert <file>', 'client certificate for TLS to NATS [$NATS_CERT]', fromEnv('NATS_CERT'))
    .option('--nats-key <file>', 'key of --nats-cert [$NATS_KEY]', fromEnv('NATS_KEY'));
  return cmd;
}

/** The connection settings from the parsed flags. */
export function natsConnectSettings(v: NatsFlagValues): NatsConnectSettings {
  const tls = v.natsCa || v.natsCert || v.natsKey
    ? {
        ...(v.natsCa ? { caFile: v.natsCa } : {}),
        ...(v.natsCert ? { certFile: v.natsCert } : {}),
        ...(v.natsKey ? { keyFile: v.natsKey } : {}),
      }
    : undefined;
  return { url: v.natsUrl, ...(v.natsCreds ? { credsFile: v.natsCreds } : {}), ...(tls ? { tls } : {}) };
}
