import { isIP } from 'node:net';
import { Command, InvalidArgumentError } from 'commander';
import { ErrorCode, invalidField, parseBindAddress, parseDuration, SvcnetError, type BindAddress } from '@svcnet/model';
import { addNatsFlags, natsConnectSettings, type NatsConnectSettings, type NatsFlagValues } from '@svcnet/service-runtime';
import { parseUpstreams, type UpstreamAddress } from './upstream.js';

/** Everything svcnet-dns was asked to do, validated. */
export interface DnsOptions {
  listen: { host: string; port: number };
  /** NATS servers, credentials and TLS (flags, else the NATS tools' environment variables). */
  nats: NatsConnectSettings;
  /** `nats.url`, for messages. */
  natsUrl: string;
  clusterDomain: string;
  ttlSeconds: number;
  upstream: UpstreamAddress[];
  metricsBindAddress: BindAddress | undefined;
  verbosity: number;
}

/** `5`, `5s`, `2m`, `1h` → seconds (DNS TTLs are whole seconds). */
export function parseTtl(text: string): number {
  let ms: number;
  try {
    ms = parseDuration(text, 'ttl', { bareSeconds: true });
  } catch {
    ms = NaN;
  }
  if (!Number.isInteger(ms / 1000) || ms < 0) throw invalidField('ttl', text, 'expected whole seconds such as 5s, 30s or 1m');
  const n = ms / 1000;
  if (n > 0x7fffffff) throw invalidField('ttl', text, 'too large');
  return n;
}

/** `HOST:PORT` or `[v6]:PORT`; both UDP and TCP listen there. */
export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text.trim());
  const host = m ? (m[1] ?? m[2] ?? '') : '';
  const port = m ? Number(m[3]) : NaN;
  if (!m || isIP(host) === 0 || port > 65535) throw invalidField('listen', text, 'expected IP:PORT, e.g. 0.0.0.0:53 or [::]:53');
  return { host, port };
}

const LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** The commander program (exported for --help and tests). */
export function buildCommand(version: string, env: NodeJS.ProcessEnv = process.env): Command {
  const cmd = new Command('svcnet-dns')
    .description("svcnet's cluster DNS: service names to cluster IPs (Kubernetes DNS-Based Service Discovery 1.1.0), fed by the state bucket's change feed")
    .version(version, '--version')
    .option('--listen <addr>', 'IP:PORT to answer on, UDP and TCP [$SVCNET_LISTEN]', env.SVCNET_LISTEN || '0.0.0.0:53');
  return addNatsFlags(cmd, env)
    .option('--cluster-domain <domain>', 'the cluster domain served', 'cluster.local')
    .option('--ttl <duration>', 'TTL of every record and of negative answers', '5s')
    .option('--upstream <addrs>', 'resolvers for names outside the cluster domain (ADDR[:PORT], comma separated); without it such queries get REFUSED', '')
    .option('--metrics-bind-address <addr>', 'ip:port for /metrics, /healthz and /readyz (empty disables)', '127.0.0.1:9153')
    .option('-v, --v <level>', 'log verbosity (0 info, 1-3 debug, 4+ trace)', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be a non-negative integer');
      return n;
    }, 0)
    .allowExcessArguments(false);
}

interface RawFlags extends NatsFlagValues {
  listen: string;
  clusterDomain: string;
  ttl: string;
  upstream: string;
  metricsBindAddress: string;
  v: number;
}

/** Turns parsed flags into validated options; throws SvcnetError(INVALID_ARGUMENT, field). */
export function optionsFromFlags(raw: RawFlags): DnsOptions {
  const domain = raw.clusterDomain.trim().toLowerCase().replace(/\.$/, '');
  if (!domain || !domain.split('.').every((l) => LABEL.test(l))) {
    throw invalidField('cluster-domain', raw.clusterDomain, 'expected a DNS name such as cluster.local');
  }
  const upstream = parseUpstreams(raw.upstream);
  for (const u of upstream) {
    if (isIP(u.host) === 0 || !Number.isInteger(u.port) || u.port < 1 || u.port > 65535) {
      throw invalidField('upstream', raw.upstream, 'expected IP[:PORT] entries, e.g. 192.168.1.1,[fd00::1]:5353');
    }
  }
  return {
    listen: parseListen(raw.listen),
    nats: natsConnectSettings(raw),
    natsUrl: raw.natsUrl,
    clusterDomain: domain,
    ttlSeconds: parseTtl(raw.ttl),
    upstream,
    metricsBindAddress: parseBindAddress(raw.metricsBindAddress, 'metrics-bind-address'),
    verbosity: raw.v,
  };
}

/** Parses argv (without node and script); usage errors throw SvcnetError(INVALID_ARGUMENT). */
export function parseDnsArgs(argv: readonly string[], version = '0.0.0'): DnsOptions {
  const cmd = buildCommand(version).exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  try {
    cmd.parse([...argv], { from: 'user' });
  } catch (err) {
    const code = (err as { code?: string }).code ?? '';
    if (code === 'commander.helpDisplayed' || code === 'commander.version') throw err;
    throw new SvcnetError(ErrorCode.InvalidArgument, err instanceof Error ? err.message : String(err), { cause: err });
  }
  return optionsFromFlags(cmd.opts<RawFlags>());
}
