import type { ServerUnaryCall } from '@grpc/grpc-js';
import { ErrorCode, SvcnetError } from '@svcnet/model';
import type { CallAuthorizer } from './grpc-status.js';

/** The Organizations of client certificates svcnet knows, as kube-apiserver's groups. */
export const SvcnetGroup = {
  /** May read and watch. */
  Viewers: 'svcnet:viewers',
  /** May also create, change and delete (the state service's own certificate towards the allocator is one). */
  Editors: 'svcnet:editors',
} as const;
export type SvcnetGroup = (typeof SvcnetGroup)[keyof typeof SvcnetGroup];

/** What a method does: reads may be done by viewers and editors, writes by editors only. */
export type MethodAccess = 'read' | 'write';

/** svcnet.v1.State, method by method. */
export const STATE_METHOD_ACCESS: Record<string, MethodAccess> = {
  GetService: 'read',
  ListServices: 'read',
  GetPod: 'read',
  ListPods: 'read',
  GetEndpoints: 'read',
  ListEndpoints: 'read',
  Watch: 'read',
  ListNodes: 'read',
  GetNode: 'read',
  WaitProgrammed: 'read',
  CreateService: 'write',
  UpdateService: 'write',
  DeleteService: 'write',
  CreatePod: 'write',
  UpdatePod: 'write',
  DeletePod: 'write',
  CreateEndpoints: 'write',
  UpdateEndpoints: 'write',
  DeleteEndpoints: 'write',
};

/** svcnet.v1.Allocator, method by method. */
export const ALLOCATOR_METHOD_ACCESS: Record<string, MethodAccess> = {
  GetStatus: 'read',
  ListAllocations: 'read',
  AllocateClusterIP: 'write',
  ReleaseClusterIP: 'write',
  AllocateNodePort: 'write',
  ReleaseNodePort: 'write',
  AllocateLoadBalancerIP: 'write',
  ReleaseLoadBalancerIP: 'write',
};

/** The verified client certificate of a call: Common Name and Organizations. */
export interface PeerIdentity {
  commonName: string;
  organizations: string[];
}

/**
 * The identity of a call's client on a mutual-TLS server. Undefined when no
 * certificate signed by the client CA was presented (grpc-js only reports
 * certificates that verified).
 */
export function peerIdentity(call: Pick<ServerUnaryCall<unknown, unknown>, 'getAuthContext'>): PeerIdentity | undefined {
  const ctx = call.getAuthContext();
  const subject = ctx.sslPeerCertificate?.subject as unknown as Record<string, string | string[]> | undefined;
  if (!ctx.transportSecurityType || !subject) return undefined;
  const list = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
  return { commonName: list(subject['CN'])[0] ?? '', organizations: list(subject['O']) };
}

/** Who a refusal names: `User "alice" (groups svcnet:viewers)`. */
function describe(id: PeerIdentity): string {
  return `User "${id.commonName}" (groups ${id.organizations.length > 0 ? id.organizations.join(',') : 'none'})`;
}

/**
 * Authorization from the client certificate, simple and explicit, as
 * kube-apiserver's RBAC messages read: `svcnet:viewers` may read and watch,
 * `svcnet:editors` may also write; anything else is refused. A method missing
 * from `access` is treated as a write (refuse rather than guess).
 */
export function certificateAuthorizer(params: { service: string; access: Record<string, MethodAccess> }): CallAuthorizer {
  return (call, method) => {
    const id = peerIdentity(call);
    if (!id) {
      throw new SvcnetError(
        ErrorCode.Unauthenticated,
        `Unauthorized: ${method} on ${params.service} needs a client certificate signed by the cluster CA; none was presented or it is not trusted`,
      );
    }
    const need = params.access[method] ?? 'write';
    const allowed = need === 'read' ? [SvcnetGroup.Viewers, SvcnetGroup.Editors] : [SvcnetGroup.Editors];
    if (!id.organizations.some((o) => (allowed as string[]).includes(o))) {
      throw new SvcnetError(
        ErrorCode.PermissionDenied,
        `${describe(id)} cannot ${need === 'read' ? 'read' : 'write'} through ${params.service}/${method}: ${need === 'read' ? 'svcnet:viewers or svcnet:editors' : 'svcnet:editors'} is required`,
      );
    }
  };
}
