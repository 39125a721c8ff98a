import type { AllocationRecord } from '@svcnet/client';
import type { IpFamily } from '@svcnet/model';

export type { AllocationRecord };

/**
 * What the state service needs from the allocator. The real one is
 * `@svcnet/client`'s AllocatorClient (gRPC, TLS); the seam keeps the service
 * logic testable and the edge in one place.
 */
export interface Allocations {
  allocateClusterIp(owner: string, requestedIp?: string, family?: IpFamily): Promise<{ ip: string; family: IpFamily | undefined }>;
  releaseClusterIp(ip: string, owner: string): Promise<void>;
  allocateNodePort(owner: string, requestedPort?: number): Promise<number>;
  releaseNodePort(port: number, owner: string): Promise<void>;
  /**
   * An IP of the allocator's load-balancer pool (a requested one, or any).
   * Undefined when the allocator has no pool, or (with `requested`) when the
   * address lies outside it: such an address belongs to an external
   * load-balancer controller, not to the pool.
   */
  allocateLoadBalancerIp(owner: string, requested?: string): Promise<string | undefined>;
  /** Releases a pool IP; an address outside the pool (or no pool) is not the pool's: nothing to do. */
  releaseLoadBalancerIp(ip: string, owner: string): Promise<void>;
  list(): Promise<AllocationRecord[]>;
  close(): void;
}
