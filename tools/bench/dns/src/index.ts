// Public API of @svcnet/bench-dns: named exports only (the benchmark is src/main.ts).
export { benchServices, zoneFile, reverseZoneFile, queryFile } from './zone-data.js';
export { parseDnsperf, parseVerboseLatencies } from './dnsperf.js';
