import { Command } from 'commander';
import { parseCidr } from '@svcnet/ipam';
import { invalidField, parseBindAddress, parseDuration } from '@svcnet/model';
import { addNatsFlags, createServiceLogger, natsConnectSettings, stopOnSignals, type NatsFlagValues } from '@svcnet/service-runtime';
import { StoreConfigError } from '@svcnet/store';
import { DEFAULT_MAX_WATCHES_PER_CLIENT, runState } from './server.js';

const program = new Command()
  .name('svcnet-state')
  .description(
    "svcnet's API server: services, pods and endpoints over gRPC (svcnet.v1.State), stored in the NATS JetStream KV bucket svcnet-state, which is also the change feed node agents watch.",
  )
  .option('--listen <host:port>', 'gRPC listen address', '127.0.0.1:9402')
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
  .option('--node-record-ttl <duration>', 'a node whose agent has not reported for this long is removed from the nodes bucket (NotReady comes after three missed heartbeats)', '24h')
  .option('--no-feed-snapshots', "do not keep the change feed's shared snapshot (starting agents then list through consumers of their own)")
  .option('--store-timeout <duration>', 'deadline of each NATS request; while NATS is away calls fail at once with UNAVAILABLE', '5s')
  .option('-v, --v <level>', 'log verbosity (0 info, 1-3 debug, 4+ trace)', '0')
  .showHelpAfterError();
addNatsFlags(program);

function positiveInt(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) {
    process.stderr.write(`svcnet-state: invalid flags: --${flag}: must be a positive integer, got ${JSON.stringify(value)}\n`);
    process.exit(1);
  }
  return n;
}

async function main(): Promise<void> {
  program.parse();
  const o = program.opts<NatsFlagValues & {
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
    nodeRecordTtl: string;
    feedSnapshots: boolean;
    v: string;
  }>();
  let metricsBindAddress;
  let storeTimeoutMs;
  let nodeRecordTtlMs;
  try {
    nodeRecordTtlMs = parseDuration(o.nodeRecordTtl, 'node-record-ttl');
    if (nodeRecordTtlMs < 1_000) throw invalidField('node-record-ttl', o.nodeRecordTtl, 'must be at least 1s');
    metricsBindAddress = parseBindAddress(o.metricsBindAddress, 'metrics-bind-address');
    storeTimeoutMs = parseDuration(o.storeTimeout, 'store-timeout');
    if (storeTimeoutMs <= 0) throw invalidField('store-timeout', o.storeTimeout, 'must be positive');
    for (const cidr of o.serviceExternalIpCidrs.split(',').map((c) => c.trim()).filter(Boolean)) {
      parseCidr(cidr, 'service-external-ip-cidrs');
    }
  } catch (err) {
    process.stderr.write(`svcnet-state: invalid flags: --${(err as Error).message}\n`);
    process.exit(1);
  }
  const log = createServiceLogger({ name: 'svcnet-state', verbosity: Number(o.v) || 0 });
  const running = await runState(
    {
      listen: o.listen,
      nats: natsConnectSettings(o),
      kvReplicas: positiveInt('kv-replicas', o.kvReplicas),
      allocatorUrl: o.allocatorUrl,
      ...(o.podNetworkCidr ? { podNetworkCidr: o.podNetworkCidr } : {}),
      repairIntervalMs: positiveInt('repair-interval-ms', o.repairIntervalMs),
      allocatorTimeoutMs: positiveInt('allocator-timeout-ms', o.allocatorTimeoutMs),
      storeTimeoutMs,
      nodeRecordTtlMs,
      feedSnapshots: o.feedSnapshots,
      serviceExternalIpCidrs: o.serviceExternalIpCidrs,
      maxWatchesPerClient: positiveInt('max-watches-per-client', o.maxWatchesPerClient),
      ...(metricsBindAddress ? { metricsBindAddress } : {}),
    },
    log,
  );
  stopOnSignals(log, () => running.stop());
}

main().catch((err: unknown) => {
  if (err instanceof StoreConfigError) {
    process.stderr.write(`svcnet-state: ${err.message}\n`);
    process.exit(1);
  }
  process.stderr.write(`svcnet-state: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
