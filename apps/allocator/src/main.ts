import { Command } from 'commander';
import { SvcnetError } from '@svcnet/model';
import { configFromFlags, type AllocatorFlags } from './config.js';
import {
  addNatsFlags,
  addServingTlsFlags,
  createServiceLogger,
  parseWithConfigFile,
  stopOnSignals,
  TlsConfigError,
  versionLine,
} from '@svcnet/service-runtime';
import { runAllocator } from './server.js';

const program = new Command()
  .name('svcnet-allocator')
  .description(
    'Hands out ClusterIPs, NodePorts and (optionally) load-balancer IPs over gRPC (svcnet.v1.Allocator), one key per allocation in the NATS JetStream KV buckets svcnet-alloc-ips and svcnet-alloc-ports. Run several replicas against one NATS: the store decides every race.',
  )
  .option('--listen <host:port>', 'gRPC listen address [$SVCNET_LISTEN]', process.env.SVCNET_LISTEN || '127.0.0.1:9401')
  .option('--service-cluster-ip-range <cidr[,cidr]>', 'ClusterIP range: one CIDR or an IPv4,IPv6 pair (first = primary family)', '10.96.0.0/12')
  .option('--service-node-port-range <first-last>', 'NodePort range', '30000-32767')
  .option('--pod-network-cidr <cidr[,cidr]>', 'pod network; refused when it overlaps the service range')
  .option('--load-balancer-ip-range <cidr>', 'optional pool of load-balancer IPs for type LoadBalancer services (disjoint from the service range and pod network)')
  .option('--store-timeout-ms <ms>', 'JetStream request timeout; requests fail with UNAVAILABLE after it (a lost NATS connection fails them at once)', '5000')
  .option('--kv-replicas <n>', 'replicas of the allocation buckets (3 on a NATS cluster)', '1')
  .option('--metrics-bind-address <ip:port>', 'ip:port for /metrics, /healthz and /livez (empty disables)', '127.0.0.1:9411')
  .option('-v, --v <level>', 'log verbosity (0 info, 1-3 debug, 4+ trace)', '0')
  .version(versionLine('svcnet-allocator'), '--version', 'print the version, commit and build date')
  .showHelpAfterError();
addNatsFlags(program);
addServingTlsFlags(program);

async function main(): Promise<void> {
  parseWithConfigFile(program, { program: 'svcnet-allocator', apiVersion: 'svcnet.io/v1alpha1', kind: 'AllocatorConfiguration' });
  const o = program.opts<Omit<AllocatorFlags, 'storeTimeout'> & { storeTimeoutMs: string }>();
  let config;
  try {
    config = configFromFlags({ ...o, storeTimeout: o.storeTimeoutMs });
  } catch (err) {
    if (err instanceof SvcnetError) {
      process.stderr.write(`svcnet-allocator: invalid flags: --${err.message}\n`);
      process.exit(1);
    }
    if (err instanceof TlsConfigError) {
      process.stderr.write(`svcnet-allocator: invalid flags: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const log = createServiceLogger({ name: 'svcnet-allocator', verbosity: config.verbosity });
  const running = await runAllocator(config, log, (err) => {
    // A setting that cannot work (refused credentials, a bucket with other replicas): say so and exit, never loop.
    process.stderr.write(`svcnet-allocator: ${err.message}\n`);
    void running.stop().finally(() => process.exit(1));
  });
  stopOnSignals(log, () => running.stop());
}

main().catch((err: unknown) => {
  process.stderr.write(`svcnet-allocator: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
