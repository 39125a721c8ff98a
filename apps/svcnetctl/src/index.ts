// Public API of @svcnet/svcnetctl: named exports only. The CLI itself is src/main.ts;
// the formatting functions are exported for other tools (e.g. the demo) that print like kubectl.
export { runCli, DEFAULT_SERVER } from './cli.js';
export type { CliDeps } from './cli.js';
export type { CliIo } from './commands/context.js';
export { servicesTable, podsTable, endpointsTable } from './format/tables.js';
export type { TableOptions } from './format/tables.js';
export { describeService, describePod, describeEndpoints } from './format/describe.js';
export { humanDuration, formatAge } from './format/age.js';
export { objectFromManifest, ManifestError } from './manifest/from-manifest.js';
export { serviceToManifest, podToManifest, endpointsToManifest } from './manifest/to-manifest.js';
