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
  kind: 'ClusterIP' | 'NodePort';
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

  async list(): Promise<AllocationRecord[]> {
    const res = await this.call<allocatorv1.ListAllocationsRequest, allocatorv1.ListAllocationsResponse>(
      this.client.listAllocations as never,
      { kind: 0, owner: '' },
    );
    return res.allocations.map((a) => ({
      kind: a.kind === allocatorv1.RangeKind.RANGE_KIND_NODE_PORT ? 'NodePort' : 'ClusterIP',
      value: a.value,
      owner: a.owner,
      ...(a.allocatedAt ? { allocatedAt: a.allocatedAt } : {}),
    }));
  }

  close(): void {
    this.client.close();
  }
}
