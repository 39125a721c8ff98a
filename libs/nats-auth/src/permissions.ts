import { ALLOCATION_BUCKETS, STATE_BUCKET } from '@svcnet/model';

/** What one NATS user may publish and subscribe to (allow lists; everything else is refused). */
export interface NatsPermissions {
  publish: string[];
  subscribe: string[];
}

/** The programs that talk to NATS, each with its own user. */
export const NatsRole = {
  Allocator: 'allocator',
  State: 'state',
  Agent: 'agent',
  Dns: 'dns',
  Admin: 'admin',
} as const;
export type NatsRole = (typeof NatsRole)[keyof typeof NatsRole];

/**
 * The reply subjects a user may receive on: its own, so one program cannot read
 * another's replies (KV values included). Programs learn theirs from their
 * credentials (see `inboxPrefixOf`).
 */
export function inboxPrefix(user: string): string {
  return `_INBOX_${user.replace(/[^A-Za-z0-9_-]/g, '_')}`;
}

/**
 * Read access to one KV bucket: stream info, ordered consumers (list + watch),
 * direct and stream gets, and JetStream flow-control replies. No `$KV.` publish:
 * the holder can neither put nor delete.
 */
export function kvReadSubjects(bucket: string): string[] {
  const stream = `KV_${bucket}`;
  return [
    `$JS.API.STREAM.INFO.${stream}`,
    `$JS.API.CONSUMER.CREATE.${stream}`,
    `$JS.API.CONSUMER.CREATE.${stream}.>`,
    `$JS.API.CONSUMER.INFO.${stream}.*`,
    `$JS.API.CONSUMER.DELETE.${stream}.*`,
    `$JS.API.CONSUMER.MSG.NEXT.${stream}.*`,
    `$JS.API.DIRECT.GET.${stream}`,
    `$JS.API.DIRECT.GET.${stream}.>`,
    `$JS.API.STREAM.MSG.GET.${stream}`,
    `$JS.FC.${stream}.>`,
  ];
}

/** Read and write access to one KV bucket, creating it included. */
export function kvWriteSubjects(bucket: string): string[] {
  const stream = `KV_${bucket}`;
  return [...kvReadSubjects(bucket), `$KV.${bucket}.>`, `$JS.API.STREAM.CREATE.${stream}`, `$JS.API.STREAM.UPDATE.${stream}`];
}

/** The user name of a role (one per node for agents). */
export function natsUserName(role: NatsRole, node?: string): string {
  return role === NatsRole.Agent ? `svcnet-agent-${node ?? ''}` : `svcnet-${role}`;
}

/**
 * Least privilege per program: the allocator its allocation buckets, the state
 * service the state bucket, agents and the DNS server read-only on the state
 * bucket. `admin` (operators' break-glass user) may do anything in the account.
 */
export function rolePermissions(role: NatsRole, user: string): NatsPermissions {
  const common = ['$JS.API.INFO'];
  const subscribe = [`${inboxPrefix(user)}.>`];
  switch (role) {
    case NatsRole.Allocator:
      return { publish: [...common, ...Object.values(ALLOCATION_BUCKETS).flatMap(kvWriteSubjects)], subscribe };
    case NatsRole.State:
      return { publish: [...common, ...kvWriteSubjects(STATE_BUCKET)], subscribe };
    case NatsRole.Agent:
    case NatsRole.Dns:
      return { publish: [...common, ...kvReadSubjects(STATE_BUCKET)], subscribe };
    case NatsRole.Admin:
      return { publish: ['>'], subscribe: ['>'] };
  }
}
