import { status as grpcStatus, type handleUnaryCall, type ServiceError } from '@grpc/grpc-js';
import type { allocatorv1} from '@svcnet/api';
import { toGrpcError } from '@svcnet/api';
import { SvcnetError } from '@svcnet/model';
import type { Logger } from 'pino';
import type { AllocatorService } from './allocator-service.js';
import type { AllocatorMetrics } from './metrics.js';

/** The one place where domain errors become gRPC status (and where calls are counted and timed). */
function unary<Req, Res>(method: string, log: Logger, metrics: AllocatorMetrics | undefined, fn: (req: Req) => Promise<Res>): handleUnaryCall<Req, Res> {
  return (call, callback) => {
    const done = metrics?.grpc.unary(method) ?? (() => undefined);
    fn(call.request).then(
      (res) => {
        callback(null, res);
        done(grpcStatus.OK);
      },
      (err: unknown) => {
        const status = toGrpcError(err);
        done(status.code ?? grpcStatus.UNKNOWN);
        if (err instanceof SvcnetError && err.code !== 'INTERNAL') {
          log.debug({ method, code: err.code, field: err.field, err: err.message }, 'request refused');
        } else {
          log.error({ method, err }, 'request failed');
        }
        callback(status as ServiceError);
      },
    );
  };
}

/** svcnet.v1.Allocator handlers over the transport-free service. */
export function allocatorHandlers(service: AllocatorService, log: Logger, metrics?: AllocatorMetrics): allocatorv1.AllocatorServer {
  return {
    allocateClusterIp: unary('AllocateClusterIP', log, metrics, (r: allocatorv1.AllocateClusterIPRequest) => service.allocateClusterIp(r)),
    releaseClusterIp: unary('ReleaseClusterIP', log, metrics, (r: allocatorv1.ReleaseClusterIPRequest) => service.releaseClusterIp(r)),
    allocateNodePort: unary('AllocateNodePort', log, metrics, (r: allocatorv1.AllocateNodePortRequest) => service.allocateNodePort(r)),
    releaseNodePort: unary('ReleaseNodePort', log, metrics, (r: allocatorv1.ReleaseNodePortRequest) => service.releaseNodePort(r)),
    getStatus: unary('GetStatus', log, metrics, (r: allocatorv1.GetStatusRequest) => service.getStatus(r)),
    listAllocations: unary('ListAllocations', log, metrics, (r: allocatorv1.ListAllocationsRequest) => service.listAllocations(r)),
  };
}
