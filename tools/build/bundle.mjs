#!/usr/bin/env node
// Bundles one app (src/main.ts) into a single runnable CommonJS file,
// <app>/dist/main.cjs, with every dependency inlined so the app deploys alone.
import { build } from 'esbuild';
import { resolve } from 'node:path';

const appDir = process.argv[2];
if (!appDir) {
  console.error('usage: bundle.mjs <app-dir>');
  process.exit(2);
}
await build({
  entryPoints: [resolve(appDir, 'src/main.ts')],
  outfile: resolve(appDir, 'dist/main.cjs'),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  logLevel: 'warning',
  // import.meta.url is used by a few ESM dependencies; map it for the CJS output.
  define: { 'import.meta.url': 'importMetaUrl' },
  banner: { js: "const importMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
});
