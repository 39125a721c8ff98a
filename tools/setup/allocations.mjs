#!/usr/bin/env node
// Prints what svcnet-allocator holds, over its gRPC API (svcnet.v1.Allocator GetStatus +
// ListAllocations), as kubectl-style tables. Used by the demo; any gRPC client could do the same.
//   node tools/setup/allocations.mjs [HOST:PORT] [CA CERT KEY]   (default 127.0.0.1:9401; with the three
//   files: mutual TLS, e.g. the cluster's ca.crt and the viewer's certificate — reading needs svcnet:viewers)
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// gRPC names the TLS server by the dialed IP; Node warns (RFC 6066) although the IP SAN is checked.
process.noDeprecation = true;
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(join(root, 'package.json'));
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const target = process.argv[2] ?? '127.0.0.1:9401';
const definition = protoLoader.loadSync('svcnet/v1/allocator.proto', { includeDirs: [join(root, 'proto')], enums: String, longs: String, defaults: true });
const [, , , ca, cert, key] = process.argv;
const { readFileSync } = await import('node:fs');
const creds = ca ? grpc.credentials.createSsl(readFileSync(ca), readFileSync(key), readFileSync(cert)) : grpc.credentials.createInsecure();
const client = new (grpc.loadPackageDefinition(definition).svcnet.v1.Allocator)(target, creds);
const call = (method) =>
  new Promise((ok, fail) => client[method]({}, { deadline: new Date(Date.now() + 10_000) }, (err, res) => (err ? fail(err) : ok(res))));

/** kubectl's tabwriter layout: columns padded to the widest cell plus 3 spaces. */
function table(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? String(c) : String(c).padEnd(widths[i] + 3))).join('').trimEnd()).join('\n');
}
const kindName = (k) => (k === 'RANGE_KIND_NODE_PORT' ? 'NodePort' : 'ClusterIP');

try {
  const status = await call('getStatus');
  console.log(table([['KIND', 'RANGE', 'SIZE', 'USED', 'FREE'], ...status.ranges.map((r) => [kindName(r.kind), r.range, r.size, r.used, r.free])]));
  const { allocations } = await call('listAllocations');
  console.log();
  console.log(table([['KIND', 'VALUE', 'OWNER'], ...allocations.map((a) => [kindName(a.kind), a.value, a.owner])]));
} catch (err) {
  console.error(`allocations: ${target}: ${err.message}`);
  process.exitCode = 1;
} finally {
  client.close();
}
