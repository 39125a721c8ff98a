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
  list(): Promise<AllocationRecord[]>;
  close(): void;
}
