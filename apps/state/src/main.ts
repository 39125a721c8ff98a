import { Command } from 'commander';
import { parseCidr } from '@svcnet/ipam';
import { invalidField, parseBindAddress, parseDuration } from '@svcnet/model';
import {
  addNatsFlags,
  addServingTlsFlags,
  createServiceLogger,
  natsConnectSettings,
  parseWithConfigFile,
  quietIpServernameWarning,
  servingSecurity,
  stopOnSignals,
  TlsConfigError,
  versionLine,
  type NatsFlagValues,
  type ServingTlsFlagValues,
} from '@svcnet/service-runtime';
import { StoreConfigError } from '@svcnet/store';
import { ClientConfigError } from '@svcnet/client';
import { DEFAULT_MAX_WATCHES_PER_CLIENT, runState } from './server.js';

quietIpServernameWarning();

const program = new Command()
  .name('svcnet-state')
  .description(
    "svcnet's API server: services, pods and endpoints over gRPC (svcnet.v1.State), stored in the NATS JetStream KV bucket svcnet-state, which is also the change feed node agents watch.",
  )
  .option('--listen <host:port>', 'gRPC listen address [$SVCNET_LISTEN]', process.env.SVCNET_LISTEN || '127.0.0.1:9402')
  .option('--allocator-url <host:port>', 'svcnet-allocator gRPC address', '127.0.0.1:9401')
  .option('--pod-network-cidr <cidr[,cidr]>', 'pod network; pod IPs must lie inside it')
  .option('--repair-interval-ms <ms>', 'allocation repair loop period', '60000')
  .option('--allocator-timeout-ms <ms>', 'deadline of each allocator call', '5000')
  .option('--metrics-bind-address <ip:port>', 'ip:port for /metrics, /healthz and /livez (empty disables)', '127.0.0.1:9412')
  .option(
    '--service-external-ip-cidrs <cidr[,cidr...]>',
    'CIDRs spec.externalIPs may come from; empty (the default) refuses every external IP, as Kubernetes with DenyServiceExternalIPs',
    '',
  )
  .option('--max-watches-per-client <n>', 'Watch streams one client address may hold open; more get RESOURCE_EXHAUSTED', String(DEFAULT_MAX_WATCHES_PER_CLIENT))
  .option('--kv-replicas <n>', 'replicas of the state bucket when it is created (3 on a NATS cluster); an existing bucket with another count is refused', '1')
  .option('--store-timeout <duration>', 'deadline of each NATS request; while NATS is away calls fail at once with UNAVAILABLE', '5s')
  .option('-v, --v <level>', 'log verbosity (0 info, 1-3 debug, 4+ trace)', '0')
  .version(versionLine('svcnet-state'), '--version', 'print the version, commit and build date')
  .showHelpAfterError();
addNatsFlags(program);
addServingTlsFlags(program);
program
  .option('--allocator-ca-file <file>', "CA bundle that signed the allocator's serving certificate (turns TLS to the allocator on)")
  .option('--allocator-client-cert-file <file>', "this service's client certificate towards the allocator (Organization svcnet:editors)")
  .option('--allocator-client-key-file <file>', 'key of --allocator-client-cert-file')
  .option('--allocator-plaintext', 'talk to the allocator without TLS (only for a quick local try)', false);

function positiveInt(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) {
    process.stderr.write(`svcnet-state: invalid flags: --${flag}: must be a positive integer, got ${JSON.stringify(value)}\n`);
    process.exit(1);
  }
  return n;
}

async function main(): Promise<void> {
  parseWithConfigFile(program, { program: 'svcnet-state', apiVersion: 'svcnet.io/v1alpha1', kind: 'StateConfiguration' });
  const o = program.opts<NatsFlagValues & ServingTlsFlagValues & {
    allocatorCaFile?: string;
    allocatorClientCertFile?: string;
    allocatorClientKeyFile?: string;
    allocatorPlaintext: boolean;
    listen: string;
    kvReplicas: string;
    allocatorUrl: string;
    podNetworkCidr?: string;
    repairIntervalMs: string;
    allocatorTimeoutMs: string;
    metricsBindAddress: string;
    serviceExternalIpCidrs: string;
    maxWatchesPerClient: string;
    storeTimeout: string;
    v: string;
  }>();
  let metricsBindAddress;
  let storeTimeoutMs;
  let security;
  try {
    security = servingSecurity(o);
    if (!o.allocatorPlaintext && !o.allocatorCaFile) {
      throw invalidField('allocator-ca-file', '', 'TLS to the allocator needs --allocator-ca-file (and a client certificate); pass --allocator-plaintext to go without TLS explicitly');
    }
    metricsBindAddress = parseBindAddress(o.metricsBindAddress, 'metrics-bind-address');
    storeTimeoutMs = parseDuration(o.storeTimeout, 'store-timeout');
    if (storeTimeoutMs <= 0) throw invalidField('store-timeout', o.storeTimeout, 'must be positive');
    for (const cidr of o.serviceExternalIpCidrs.split(',').map((c) => c.trim()).filter(Boolean)) {
      parseCidr(cidr, 'service-external-ip-cidrs');
    }
  } catch (err) {
    const message = err instanceof TlsConfigError ? err.message : `--${(err as Error).message}`;
    process.stderr.write(`svcnet-state: invalid flags: ${message}\n`);
    process.exit(1);
  }
  const log = createServiceLogger({ name: 'svcnet-state', verbosity: Number(o.v) || 0 });
  const running = await runState(
    {
      listen: o.listen,
      security,
      allocatorTls: o.allocatorPlaintext
        ? undefined
        : {
            caFile: o.allocatorCaFile!,
            ...(o.allocatorClientCertFile ? { certFile: o.allocatorClientCertFile } : {}),
            ...(o.allocatorClientKeyFile ? { keyFile: o.allocatorClientKeyFile } : {}),
          },
      nats: natsConnectSettings(o),
      kvReplicas: positiveInt('kv-replicas', o.kvReplicas),
      allocatorUrl: o.allocatorUrl,
      ...(o.podNetworkCidr ? { podNetworkCidr: o.podNetworkCidr } : {}),
      repairIntervalMs: positiveInt('repair-interval-ms', o.repairIntervalMs),
      allocatorTimeoutMs: positiveInt('allocator-timeout-ms', o.allocatorTimeoutMs),
      storeTimeoutMs,
      serviceExternalIpCidrs: o.serviceExternalIpCidrs,
      maxWatchesPerClient: positiveInt('max-watches-per-client', o.maxWatchesPerClient),
      ...(metricsBindAddress ? { metricsBindAddress } : {}),
    },
    log,
  );
  stopOnSignals(log, () => running.stop());
}

main().catch((err: unknown) => {
  if (err instanceof StoreConfigError || err instanceof TlsConfigError || err instanceof ClientConfigError) {
    process.stderr.write(`svcnet-state: ${err.message}\n`);
    process.exit(1);
  }
  process.stderr.write(`svcnet-state: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
