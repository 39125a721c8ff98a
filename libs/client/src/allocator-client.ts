/**
 * A promise-based client of svcnet.v1.Allocator for other programs (the state
 * service uses it): TLS, a deadline per call, quick reconnects, and every
 * failure as a SvcnetError (UNAVAILABLE naming the allocator when it is down).
 */
import type { ServiceError } from '@grpc/grpc-js';
import { allocatorv1, fromGrpcError, ipFamilyFromProto, ipFamilyToProto } from '@svcnet/api';
import { ErrorCode, SvcnetError, type IpFamily } from '@svcnet/model';
import { channelCredentials, type ClientTlsOptions } from './credentials.js';

/** One allocation as the allocator reports it. */
export interface AllocationRecord {
  kind: 'ClusterIP' | 'NodePort' | 'LoadBalancerIP';
  /** The IP, or the port in decimal. */
  value: string;
  owner: string;
  allocatedAt?: Date;
}

/** Options of an {@link AllocatorClient}. */
export interface AllocatorClientOptions {
  /** host:port */
  address: string;
  /** Deadline of each call. Default 5000. */
  timeoutMs?: number;
  /** TLS and the client certificate (Organization svcnet:editors to allocate); undefined = plaintext, explicitly. */
  tls?: ClientTlsOptions;
}

type Call<Req, Res> = (req: Req, options: { deadline: Date }, cb: (err: ServiceError | null, res: Res) => void) => unknown;

/** An allocator failure as the state service's clients should read it: an unreachable allocator is named as such. */
function allocatorError(address: string, err: ServiceError): SvcnetError {
  const e = fromGrpcError(err);
  if (e.code !== ErrorCode.Unavailable) return e;
  return Object.assign(new SvcnetError(ErrorCode.Unavailable, `allocator at ${address} unavailable: ${e.message}`, { cause: err }), e.field ? { field: e.field } : {});
}

/**
 * True for the allocator's answers that mean "not an address of the pool":
 * no pool at all (FAILED_PRECONDITION "no load-balancer IP range"), or a
 * given address outside it (INVALID_ARGUMENT on the IP).
 */
function notThePools(err: unknown, addressGiven: boolean): boolean {
  if (!(err instanceof SvcnetError)) return false;
  if (err.code === ErrorCode.FailedPrecondition && /no load-balancer IP range/.test(err.message)) return true;
  return addressGiven && err.code === ErrorCode.InvalidArgument && /not in the valid range/.test(err.message);
}

/** The allocator over gRPC; every failure comes back as a SvcnetError (UNAVAILABLE when it is down). */
export class AllocatorClient {
  private readonly client: allocatorv1.AllocatorClient;
  private readonly timeoutMs: number;

  private readonly address: string;

  constructor(options: AllocatorClientOptions) {
    this.address = options.address;
    const timeoutMs = options.timeoutMs ?? 5_000;
    // A restarted allocator should be used again within seconds, not after
    // grpc-js's default reconnect backoff (up to 120 s).
    this.client = new allocatorv1.AllocatorClient(options.address, channelCredentials(options.tls), {
      'grpc.initial_reconnect_backoff_ms': 200,
      'grpc.max_reconnect_backoff_ms': 2_000,
    });
    this.timeoutMs = timeoutMs;
  }

  private call<Req, Res>(fn: Call<Req, Res>, req: Req): Promise<Res> {
    return new Promise((resolve, reject) => {
      fn.call(this.client, req, { deadline: new Date(Date.now() + this.timeoutMs) }, (err, res) =>
        err ? reject(allocatorError(this.address, err)) : resolve(res),
      );
    });
  }

  async allocateClusterIp(owner: string, requestedIp = '', family?: IpFamily): Promise<{ ip: string; family: IpFamily | undefined }> {
    const res = await this.call<allocatorv1.AllocateClusterIPRequest, allocatorv1.AllocateClusterIPResponse>(
      this.client.allocateClusterIp as never,
      { owner, requestedIp, ipFamily: requestedIp ? 0 : ipFamilyToProto(family) },
    );
    return { ip: res.ip, family: ipFamilyFromProto(res.ipFamily) };
  }

  async releaseClusterIp(ip: string, owner: string): Promise<void> {
    await this.call<allocatorv1.ReleaseClusterIPRequest, allocatorv1.ReleaseClusterIPResponse>(
      this.client.releaseClusterIp as never,
      { ip, owner },
    );
  }

  async allocateNodePort(owner: string, requestedPort = 0): Promise<number> {
    const res = await this.call<allocatorv1.AllocateNodePortRequest, allocatorv1.AllocateNodePortResponse>(
      this.client.allocateNodePort as never,
      { owner, requestedPort },
    );
    return res.port;
  }

  async releaseNodePort(port: number, owner: string): Promise<void> {
    await this.call<allocatorv1.ReleaseNodePortRequest, allocatorv1.ReleaseNodePortResponse>(
      this.client.releaseNodePort as never,
      { port, owner },
    );
  }

  /**
   * An IP of the allocator's load-balancer pool (a requested one, or any).
   * Undefined when the allocator has no pool, or (with `requested`) when the
   * address lies outside it: such an address belongs to an external
   * load-balancer controller, not to the pool.
   */
  async allocateLoadBalancerIp(owner: string, requested = ''): Promise<string | undefined> {
    try {
      const res = await this.call<allocatorv1.AllocateLoadBalancerIPRequest, allocatorv1.AllocateLoadBalancerIPResponse>(
        this.client.allocateLoadBalancerIp as never,
        { owner, requestedIp: requested },
      );
      return res.ip;
    } catch (err) {
      if (notThePools(err, requested !== '')) return undefined;
      throw err;
    }
  }

  /** Releases a pool IP; an address outside the pool (or no pool) is not the pool's: nothing to do. */
  async releaseLoadBalancerIp(ip: string, owner: string): Promise<void> {
    try {
      await this.call<allocatorv1.ReleaseLoadBalancerIPRequest, allocatorv1.ReleaseLoadBalancerIPResponse>(this.client.releaseLoadBalancerIp as never, { ip, owner });
    } catch (err) {
      if (!notThePools(err, true)) throw err;
    }
  }

  async list(): Promise<AllocationRecord[]> {
    const res = await this.call<allocatorv1.ListAllocationsRequest, allocatorv1.ListAllocationsResponse>(
      this.client.listAllocations as never,
      { kind: 0, owner: '' },
    );
    return res.allocations.map((a) => ({
      kind:
        a.kind === allocatorv1.RangeKind.RANGE_KIND_NODE_PORT
          ? 'NodePort'
          : a.kind === allocatorv1.RangeKind.RANGE_KIND_LOAD_BALANCER_IP
            ? 'LoadBalancerIP'
            : 'ClusterIP',
      value: a.value,
      owner: a.owner,
      ...(a.allocatedAt ? { allocatedAt: a.allocatedAt } : {}),
    }));
  }

  close(): void {
    this.client.close();
  }
}
