import type { handleUnaryCall } from '@grpc/grpc-js';
import type { allocatorv1, CallAuthorizer } from '@svcnet/api';
import { unaryHandler } from '@svcnet/api';
import type { Logger } from 'pino';
import type { AllocatorService } from './allocator-service.js';
import type { AllocatorMetrics } from './metrics.js';

/** svcnet.v1.Allocator handlers over the transport-free service; `authorize` checks each caller (mutual TLS). */
export function allocatorHandlers(
  service: AllocatorService,
  log: Logger,
  metrics?: AllocatorMetrics,
  authorize?: CallAuthorizer,
): allocatorv1.AllocatorServer {
  const unary = <Req, Res>(method: string, _log: Logger, m: AllocatorMetrics | undefined, fn: (req: Req) => Promise<Res>): handleUnaryCall<Req, Res> =>
    unaryHandler(method, log, fn, { ...(m ? { observe: (x: string) => m.grpc.unary(x) } : {}), ...(authorize ? { authorize } : {}) });
  return {
    allocateClusterIp: unary('AllocateClusterIP', log, metrics, (r: allocatorv1.AllocateClusterIPRequest) => service.allocateClusterIp(r)),
    releaseClusterIp: unary('ReleaseClusterIP', log, metrics, (r: allocatorv1.ReleaseClusterIPRequest) => service.releaseClusterIp(r)),
    allocateNodePort: unary('AllocateNodePort', log, metrics, (r: allocatorv1.AllocateNodePortRequest) => service.allocateNodePort(r)),
    releaseNodePort: unary('ReleaseNodePort', log, metrics, (r: allocatorv1.ReleaseNodePortRequest) => service.releaseNodePort(r)),
    allocateLoadBalancerIp: unary('AllocateLoadBalancerIP', log, metrics, (r: allocatorv1.AllocateLoadBalancerIPRequest) => service.allocateLoadBalancerIp(r)),
    releaseLoadBalancerIp: unary('ReleaseLoadBalancerIP', log, metrics, (r: allocatorv1.ReleaseLoadBalancerIPRequest) => service.releaseLoadBalancerIp(r)),
    getStatus: unary('GetStatus', log, metrics, (r: allocatorv1.GetStatusRequest) => service.getStatus(r)),
    listAllocations: unary('ListAllocations', log, metrics, (r: allocatorv1.ListAllocationsRequest) => service.listAllocations(r)),
  };
}
