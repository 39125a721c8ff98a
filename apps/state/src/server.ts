import type { ServerCredentials } from '@grpc/grpc-js';
import { Server } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { addHealthAndReflection, certificateAuthorizer, STATE_METHOD_ACCESS, statev1, tolerantService } from '@svcnet/api';
import type { BindAddress } from '@svcnet/model';
import { boundPort, closeHttp, GrpcServerMetrics, listenMetrics, registerBuildInfo, serverCredentialsFor, type NatsConnectSettings, type ServingSecurity } from '@svcnet/service-runtime';
import { connectStore, openStateStores, StoreConfigError, type StateStores, type StoreConnection } from '@svcnet/store';
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Allocations } from './allocations.js';
import { AllocatorClient, type ClientTlsOptions } from '@svcnet/client';
import { EndpointsController } from './endpoints-controller.js';
import { StateInformers } from './informers.js';
import { ListPager } from './list-pager.js';
import { WatchHub } from './watch-stream.js';
import { EndpointsManager, PodManager } from './object-managers.js';
import { RepairLoop } from './repair-loop.js';
import { ServiceManager } from './service-manager.js';
import { stateHandlers } from './state-edge.js';

export interface StateConfig {
  listen: string;
  /** Mutual TLS (kube-apiserver's flags) or plaintext when asked for explicitly. */
  security: ServingSecurity;
  /** TLS towards the allocator; undefined = plaintext, explicitly. */
  allocatorTls?: ClientTlsOptions;
  nats: NatsConnectSettings;
  /** Replicas of the state bucket when it is created. */
  kvReplicas?: number;
  allocatorUrl: string;
  podNetworkCidr?: string;
  repairIntervalMs: number;
  allocatorTimeoutMs: number;
  /** Deadline of each NATS request; calls fail with UNAVAILABLE at once while NATS is away. */
  storeTimeoutMs?: number;
  /** CIDRs external IPs may come from; empty = external IPs refused. */
  serviceExternalIpCidrs?: string;
  /** Watch streams one client may hold open. */
  maxWatchesPerClient?: number;
  /** /metrics, /healthz, /livez; undefined = disabled. */
  metricsBindAddress?: BindAddress;
}

/**
 * Opens the state bucket, waiting for JetStream: a NATS cluster that has just
 * started elects its leaders for a few seconds. Settings that cannot work
 * (a bucket with another replica count) end the start at once.
 */
async function openStoresWhenReady(connection: StoreConnection, replicas: number, logger: Logger): Promise<StateStores> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await openStateStores(connection, { replicas });
    } catch (err) {
      if (err instanceof StoreConfigError || attempt >= 60) throw err;
      logger.warn({ err, attempt }, 'cannot open the state bucket yet; retrying');
      await new Promise((r) => setTimeout(r, Math.min(2000, 200 * attempt)));
    }
  }
}

/** Default of --max-watches-per-client. */
export const DEFAULT_MAX_WATCHES_PER_CLIENT = 100;

export interface RunningState {
  /** The bound address (host:port), useful with port 0. */
  address: string;
  /** The /metrics listener's port, when enabled. */
  metricsPort: number | undefined;
  stop(): Promise<void>;
}

function bind(server: Server, address: string, credentials: ServerCredentials): Promise<number> {
  return new Promise((resolve, reject) => server.bindAsync(address, credentials, (err, port) => (err ? reject(err) : resolve(port))));
}

/**
 * Starts the state service: NATS, the gRPC API, the endpoints controller and
 * the allocation repair loop. Serving starts once the controller's informers
 * have listed, so the first answers already see a consistent store.
 */
export async function runState(config: StateConfig, logger: Logger): Promise<RunningState> {
  const connection: StoreConnection = await connectStore({
    ...config.nats,
    name: 'svcnet-state',
    logger,
    ...(config.storeTimeoutMs ? { requestTimeoutMs: config.storeTimeoutMs } : {}),
  });
  const stores = await openStoresWhenReady(connection, config.kvReplicas ?? 1, logger);
  // TLS files are read and checked first: a bad one stops the start, naming the flag and the path.
  const serverCredentials = serverCredentialsFor(config.security);
  const allocations: Allocations = new AllocatorClient({
    address: config.allocatorUrl,
    timeoutMs: config.allocatorTimeoutMs,
    ...(config.allocatorTls ? { tls: config.allocatorTls } : {}),
  });
  const informers = new StateInformers({ connection, logger });
  const controller = new EndpointsController({ informers, endpoints: stores.endpoints, logger });
  await controller.start();
  const watches = new WatchHub({ informers, logger, maxStreamsPerClient: config.maxWatchesPerClient ?? DEFAULT_MAX_WATCHES_PER_CLIENT });
  const repair = new RepairLoop({ services: stores.services, allocations, logger, intervalMs: config.repairIntervalMs });
  repair.start();

  // NATS reachability, for /healthz and svcnet_state_store_available (the connection reconnects forever).
  let natsConnected = true;
  void (async () => {
    for await (const s of connection.nc.status()) {
      if (s.type === 'disconnect') natsConnected = false;
      if (s.type === 'reconnect') natsConnected = true;
    }
  })().catch(() => undefined);
  const registry = new Registry();
  registerBuildInfo(registry, 'svcnet-state');
  collectDefaultMetrics({ register: registry });
  const grpcMetrics = new GrpcServerMetrics('svcnet.v1.State', registry);
  new Gauge({
    name: 'svcnet_state_objects',
    help: "Objects stored, per resource, as the endpoints controller's informers last saw them (apiserver_storage_objects).",
    labelNames: ['resource'],
    registers: [registry],
    collect() {
      for (const [resource, n] of Object.entries(informers.objectCounts())) this.set({ resource }, n);
    },
  });
  new Gauge({
    name: 'svcnet_state_undecodable_objects',
    help: 'Stored records that cannot be decoded, per resource (they show in lists as broken and can be deleted).',
    labelNames: ['resource'],
    registers: [registry],
    collect() {
      for (const [resource, n] of Object.entries(informers.brokenCounts())) this.set({ resource }, n);
    },
  });
  new Gauge({
    name: 'svcnet_state_watch_streams',
    help: 'Open gRPC Watch streams (all served from one shared informer per kind).',
    registers: [registry],
    collect() {
      this.set(watches.openStreams());
    },
  });
  new Gauge({
    name: 'svcnet_endpoints_controller_queue_depth',
    help: 'Services waiting for an endpoints sync (workqueue_depth of the endpoints controller).',
    registers: [registry],
    collect() {
      this.set(controller.queueDepth);
    },
  });
  new Gauge({
    name: 'svcnet_state_store_available',
    help: '1 while the state store (NATS JetStream) is connected, else 0.',
    registers: [registry],
    collect() {
      this.set(natsConnected && !connection.nc.isClosed() ? 1 : 0);
    },
  });

  const server = new Server();
  server.addService(
    tolerantService(statev1.StateService),
    stateHandlers({
      stores,
      watches,
      pager: new ListPager(),
      services: new ServiceManager({
        store: stores.services,
        allocations,
        logger,
        externalIpCidrs: config.serviceExternalIpCidrs ?? '',
      }),
      pods: new PodManager({ store: stores.pods, ...(config.podNetworkCidr ? { podCidr: config.podNetworkCidr } : {}) }),
      endpoints: new EndpointsManager({ store: stores.endpoints, services: stores.services }),
      logger,
      metrics: grpcMetrics,
      ...('tls' in config.security ? { authorize: certificateAuthorizer({ service: 'svcnet.v1.State', access: STATE_METHOD_ACCESS }) } : {}),
    }),
  );
  addHealthAndReflection(server, ['svcnet.v1.State']);
  const port = await bind(server, config.listen, serverCredentials);
  const host = config.listen.slice(0, config.listen.lastIndexOf(':'));
  const address = `${host}:${port}`;
  const http = config.metricsBindAddress
    ? await listenMetrics(config.metricsBindAddress, registry, () => (natsConnected ? undefined : 'not connected to NATS'))
    : undefined;
  const metricsPort = http ? boundPort(http) : undefined;
  logger.info(
    { listen: address, nats: config.nats.url, natsUser: connection.user, allocator: config.allocatorUrl, ...(http ? { metrics: `${config.metricsBindAddress!.host}:${metricsPort}` } : {}) },
    'svcnet-state serving',
  );
  return {
    address,
    metricsPort,
    stop: async () => {
      if (http) await closeHttp(http);
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      await repair.stop();
      await controller.stop();
      await informers.stop();
      allocations.close();
      await connection.close();
    },
  };
}
