import type { handleUnaryCall, ServiceError } from '@grpc/grpc-js';
import type { allocatorv1} from '@svcnet/api';
import { toGrpcError } from '@svcnet/api';
import { SvcnetError } from '@svcnet/model';
import type { Logger } from 'pino';
import type { AllocatorService } from './allocator-service.js';

/** The one place where domain errors become gRPC status. */
function unary<Req, Res>(method: string, log: Logger, fn: (req: Req) => Promise<Res>): handleUnaryCall<Req, Res> {
  return (call, callback) => {
    fn(call.request).then(
      (res) => callback(null, res),
      (err: unknown) => {
        const status = toGrpcError(err);
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
export function allocatorHandlers(service: AllocatorService, log: Logger): allocatorv1.AllocatorServer {
  return {
    allocateClusterIp: unary('AllocateClusterIP', log, (r: allocatorv1.AllocateClusterIPRequest) => service.allocateClusterIp(r)),
    releaseClusterIp: unary('ReleaseClusterIP', log, (r: allocatorv1.ReleaseClusterIPRequest) => service.releaseClusterIp(r)),
    allocateNodePort: unary('AllocateNodePort', log, (r: allocatorv1.AllocateNodePortRequest) => service.allocateNodePort(r)),
    releaseNodePort: unary('ReleaseNodePort', log, (r: allocatorv1.ReleaseNodePortRequest) => service.releaseNodePort(r)),
    getStatus: unary('GetStatus', log, (r: allocatorv1.GetStatusRequest) => service.getStatus(r)),
    listAllocations: unary('ListAllocations', log, (r: allocatorv1.ListAllocationsRequest) => service.listAllocations(r)),
  };
}
