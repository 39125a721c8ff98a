// Public API of @svcnet/dns: named exports only (the program is src/main.ts).
export { ClusterZone, LookupKind } from './zone.js';
export type { ClusterZoneParams, LookupResult } from './zone.js';
export { serviceRecords, apexRecords, serviceName, SCHEMA_VERSION } from './records.js';
export type { NamedRecord, RecordData } from './records.js';
export { handleMessage, Transport, MAX_UDP_SIZE, CLASSIC_UDP_SIZE } from './message.js';
export { Rcode, rcodeName } from './answer.js';
export { DnsApp } from './dns-app.js';
export type { DnsAppParams, Readiness } from './dns-app.js';
export { parseDnsArgs } from './flags.js';
export type { DnsOptions } from './flags.js';
