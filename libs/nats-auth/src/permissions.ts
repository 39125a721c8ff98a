import { ALLOCATION_BUCKETS, FEED_BUCKET, NODES_BUCKET, STATE_BUCKET } from '@svcnet/model';
import { feedSubject, NODE_PROBE_SUBJECT, NODE_PROGRESS_WILDCARD, nodeProgressSubject } from '@svcnet/store';

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

/**
 * Reading single records of a bucket, no consumer: direct gets (any replica)
 * and stream gets (the leader). What a starting agent needs of the snapshots.
 */
export function kvGetSubjects(bucket: string): string[] {
  const stream = `KV_${bucket}`;
  return [`$JS.API.DIRECT.GET.${stream}`, `$JS.API.DIRECT.GET.${stream}.>`, `$JS.API.STREAM.MSG.GET.${stream}`];
}

/**
 * A node agent's rights on the nodes bucket: put its own key only (the
 * subject is the exact key), read its own record back (stream info and
 * stream gets; records of other nodes are no secret), and nothing else.
 */
export function nodeRecordSubjects(node: string): string[] {
  const stream = `KV_${NODES_BUCKET}`;
  return [`$KV.${NODES_BUCKET}.${node}`, `$JS.API.STREAM.INFO.${stream}`, `$JS.API.STREAM.MSG.GET.${stream}`];
}

/** The user name of a role (one per node for agents). */
export function natsUserName(role: NatsRole, node?: string): string {
  return role === NatsRole.Agent ? `svcnet-agent-${node ?? ''}` : `svcnet-${role}`;
}

/**
 * Least privilege per program: the allocator its allocation buckets, the state
 * service the state and feed buckets (and reading the nodes bucket it
 * creates), agents read-only on the state (records, snapshots) plus their own
 * node record and progress answers, the DNS server read-only on the state
 * bucket. `admin` (operators' break-glass user) may do anything in the account.
 */
export function rolePermissions(role: NatsRole, user: string, node?: string): NatsPermissions {
  const common = ['$JS.API.INFO'];
  const subscribe = [`${inboxPrefix(user)}.>`];
  const liveFeed = `${feedSubject(STATE_BUCKET)}.>`;
  switch (role) {
    case NatsRole.Allocator:
      return { publish: [...common, ...Object.values(ALLOCATION_BUCKETS).flatMap(kvWriteSubjects)], subscribe };
    case NatsRole.State:
      return {
        publish: [
          ...common,
          ...kvWriteSubjects(STATE_BUCKET),
          ...kvWriteSubjects(FEED_BUCKET),
          // Old snapshots are removed by subject, without leaving a deletion marker per key.
          `$JS.API.STREAM.PURGE.KV_${FEED_BUCKET}`,
          ...kvReadSubjects(NODES_BUCKET),
          `$JS.API.STREAM.CREATE.KV_${NODES_BUCKET}`,
          `$JS.API.STREAM.UPDATE.KV_${NODES_BUCKET}`,
          NODE_PROBE_SUBJECT,
        ],
        subscribe: [...subscribe, liveFeed, NODE_PROGRESS_WILDCARD],
      };
    case NatsRole.Agent: {
      if (!node) throw new Error('an agent user needs its node name');
      return {
        publish: [...common, ...kvReadSubjects(STATE_BUCKET), ...kvGetSubjects(FEED_BUCKET), ...nodeRecordSubjects(node), nodeProgressSubject(node)],
        subscribe: [...subscribe, liveFeed, NODE_PROBE_SUBJECT],
      };
    }
    case NatsRole.Dns:
      return { publish: [...common, ...kvReadSubjects(STATE_BUCKET)], subscribe };
    case NatsRole.Admin:
      return { publish: ['>'], subscribe: ['>'] };
  }
}
