import { Server } from '@grpc/grpc-js';
import { addHealthAndReflection, ALLOCATOR_METHOD_ACCESS, allocatorv1, certificateAuthorizer, tolerantService } from '@svcnet/api';
import { ALLOCATION_BUCKETS, AllocationStore, connectStore, StoreConfigError, type StoreConnection } from '@svcnet/store';
import type { Logger } from 'pino';
import { AllocatorService, ranges, type ReadyAllocators } from './allocator-service.js';
import type { AllocatorConfig } from './config.js';
import { allocatorHandlers } from './grpc-edge.js';
import { boundPort, closeHttp, listenMetrics, serverCredentialsFor } from '@svcnet/service-runtime';
import { AllocatorMetrics, type RangeGauge } from './metrics.js';
import { RangeAllocator } from './range-allocator.js';

const SERVICE_NAME = 'svcnet.v1.Allocator';
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A running allocator: the gRPC port it listens on and a way to stop it. */
export interface RunningAllocator {
  readonly port: number;
  /** The /metrics listener's port, when enabled. */
  readonly metricsPort: number | undefined;
  stop(): Promise<void>;
}

/**
 * Serves gRPC at once (UNAVAILABLE until the store is open, health
 * NOT_SERVING while NATS is away) and opens the allocation buckets in the
 * background, retrying until NATS answers.
 */
/**
 * Starts the allocator. `onFatal` hears a setting that can never work
 * (refused credentials, a bucket with another replica count); the caller exits.
 */
export async function runAllocator(config: AllocatorConfig, log: Logger, onFatal: (err: StoreConfigError) => void = () => undefined): Promise<RunningAllocator> {
  let ready: ReadyAllocators | undefined;
  const usage = (): RangeGauge[] =>
    ready ? ranges(ready).map((a) => ({ kind: a.range.kind, range: a.range.text, ...a.usage() })) : [];
  const metrics = new AllocatorMetrics(usage, () => service.serving);
  const service = new AllocatorService((kind, range, scope, ok) => metrics.observeAllocation(kind, range, scope, ok));
  const server = new Server();
  // Reading the TLS files now: a bad one stops the start, naming the flag and the path.
  const credentials = serverCredentialsFor(config.security);
  const authorize = 'tls' in config.security ? certificateAuthorizer({ service: SERVICE_NAME, access: ALLOCATOR_METHOD_ACCESS }) : undefined;
  server.addService(tolerantService(allocatorv1.AllocatorService), allocatorHandlers(service, log, metrics, authorize));
  const health = addHealthAndReflection(server, [SERVICE_NAME]);
  const setServing = (serving: boolean) => {
    const s = serving ? 'SERVING' : 'NOT_SERVING';
    health.setStatus('', s);
    health.setStatus(SERVICE_NAME, s);
  };
  setServing(false);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(config.listen, credentials, (err, p) => (err ? reject(err) : resolve(p))),
  );
  log.info(
    { listen: config.listen, port, ranges: config.serviceIpRanges.map((r) => r.text), nodePorts: config.nodePortRange.text, loadBalancerIps: config.loadBalancerIpRange?.text },
    'gRPC listening',
  );
  const http = config.metricsBindAddress
    ? await listenMetrics(config.metricsBindAddress, metrics.registry, () => {
        if (!service.attached) return 'allocation store not open yet';
        return service.serving ? undefined : 'not connected to NATS';
      }).catch((err: unknown) => {
        server.forceShutdown();
        throw err;
      })
    : undefined;
  const metricsPort = http ? boundPort(http) : undefined;
  if (http) log.info({ metrics: `${config.metricsBindAddress!.host}:${metricsPort}` }, 'metrics listening');

  let stopped = false;
  let connection: StoreConnection | undefined;
  const stores: AllocationStore[] = [];
  const opened = (async () => {
    connection = await connectStore({
      ...config.nats,
      name: 'svcnet-allocator',
      requestTimeoutMs: config.storeTimeoutMs,
      logger: log,
    });
    if (stopped) return;
    log.info({ nats: config.nats.url, user: connection.user }, 'connected to NATS');
    void (async () => {
      for await (const s of connection.nc.status()) {
        if (s.type === 'disconnect' || s.type === 'reconnect') log.warn({ nats: s.type }, 'NATS connection changed');
        if (s.type === 'disconnect') setServing(false);
        // The stores watch the same status feed and may not have flipped yet: go by the connection.
        if (s.type === 'reconnect' && service.attached) setServing(true);
      }
    })();
    const open = async (bucket: string) => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await AllocationStore.open({
            connection: connection!,
            bucket,
            replicas: config.kvReplicas,
            onWatchError: (err) => log.warn({ bucket, err }, 'allocation watch restarting'),
          });
        } catch (err) {
          if (stopped || err instanceof StoreConfigError) throw err;
          log.warn({ bucket, attempt, err }, 'cannot open allocation bucket yet; retrying');
          await sleep(Math.min(2000, 100 * attempt));
        }
      }
    };
    const ipStore = await open(ALLOCATION_BUCKETS.clusterIps);
    stores.push(ipStore);
    const portStore = await open(ALLOCATION_BUCKETS.nodePorts);
    stores.push(portStore);
    ready = {
      ipStore,
      portStore,
      clusterIps: config.serviceIpRanges.map((r) => new RangeAllocator(r, ipStore)),
      nodePorts: new RangeAllocator(config.nodePortRange, portStore),
      // Load-balancer IPs share the IP bucket: the pool is disjoint from the service range (checked at start).
      ...(config.loadBalancerIpRange ? { loadBalancerIps: new RangeAllocator(config.loadBalancerIpRange, ipStore) } : {}),
    };
    service.attach(ready);
    setServing(service.serving);
    log.info({ buckets: Object.values(ALLOCATION_BUCKETS) }, 'allocation store open: serving');
  })().catch((err: unknown) => {
    if (stopped) return;
    log.error({ err }, 'allocation store failed to open');
    if (err instanceof StoreConfigError) onFatal(err);
  });

  return {
    port,
    metricsPort,
    stop: async () => {
      stopped = true;
      if (http) await closeHttp(http);
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      for (const s of stores) s.close();
      await connection?.close();
      void opened;
    },
  };
}
