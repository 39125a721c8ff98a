import { Command } from 'commander';
import { parseBindAddress } from '@svcnet/model';
import { createServiceLogger, stopOnSignals } from '@svcnet/service-runtime';
import { runState } from './server.js';

const program = new Command()
  .name('svcnet-state')
  .description(
    "svcnet's API server: services, pods and endpoints over gRPC (svcnet.v1.State), stored in the NATS JetStream KV bucket svcnet-state, which is also the change feed node agents watch.",
  )
  .option('--listen <host:port>', 'gRPC listen address', '127.0.0.1:9402')
  .option('--nats-url <url>', 'NATS server URL(s), comma-separated', 'nats://127.0.0.1:4222')
  .option('--allocator-url <host:port>', 'svcnet-allocator gRPC address', '127.0.0.1:9401')
  .option('--pod-network-cidr <cidr[,cidr]>', 'pod network; pod IPs must lie inside it')
  .option('--repair-interval-ms <ms>', 'allocation repair loop period', '60000')
  .option('--allocator-timeout-ms <ms>', 'deadline of each allocator call', '5000')
  .option('--metrics-bind-address <ip:port>', 'ip:port for /metrics, /healthz and /livez (empty disables)', '127.0.0.1:9412')
  .option('-v, --v <level>', 'log verbosity (0 info, 1-3 debug, 4+ trace)', '0')
  .showHelpAfterError();

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
  const o = program.opts<{
    listen: string;
    natsUrl: string;
    allocatorUrl: string;
    podNetworkCidr?: string;
    repairIntervalMs: string;
    allocatorTimeoutMs: string;
    metricsBindAddress: string;
    v: string;
  }>();
  let metricsBindAddress;
  try {
    metricsBindAddress = parseBindAddress(o.metricsBindAddress, 'metrics-bind-address');
  } catch (err) {
    process.stderr.write(`svcnet-state: invalid flags: --${(err as Error).message}\n`);
    process.exit(1);
  }
  const log = createServiceLogger({ name: 'svcnet-state', verbosity: Number(o.v) || 0 });
  const running = await runState(
    {
      listen: o.listen,
      natsUrl: o.natsUrl,
      allocatorUrl: o.allocatorUrl,
      ...(o.podNetworkCidr ? { podNetworkCidr: o.podNetworkCidr } : {}),
      repairIntervalMs: positiveInt('repair-interval-ms', o.repairIntervalMs),
      allocatorTimeoutMs: positiveInt('allocator-timeout-ms', o.allocatorTimeoutMs),
      ...(metricsBindAddress ? { metricsBindAddress } : {}),
    },
    log,
  );
  stopOnSignals(log, () => running.stop());
}

main().catch((err: unknown) => {
  process.stderr.write(`svcnet-state: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
