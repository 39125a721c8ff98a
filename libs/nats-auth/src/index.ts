// Public API of @svcnet/nats-auth: NATS decentralized authentication for svcnet.
export { generateNatsAuth, issueNatsUser, SVCNET_ACCOUNT } from './credentials.js';
export type { NatsAuthBundle, UserCredentials, GenerateNatsAuthParams } from './credentials.js';
export { NatsRole, natsUserName, rolePermissions, inboxPrefix, kvReadSubjects, kvWriteSubjects } from './permissions.js';
export type { NatsPermissions } from './permissions.js';
