#!/usr/bin/env node
// Bundles one app (src/main.ts) into a single runnable CommonJS file,
// <app>/dist/main.cjs, with every dependency inlined so the app deploys alone.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { cpSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';

// grpc-health-check loads its .proto at require time from `${__dirname}/../../proto`;
// in a bundle __dirname is <app>/dist, so point it at a copy in dist/proto.
const require = createRequire(import.meta.url);
const grpcHealthProto = {
  name: 'grpc-health-proto',
  setup(b) {
    b.onLoad({ filter: /grpc-health-check[\\/]build[\\/]src[\\/]health\.js$/ }, (args) => ({
      contents: readFileSync(args.path, 'utf8').replace('`${__dirname}/../../proto`', '`${__dirname}/proto`'),
      loader: 'js',
    }));
  },
};
// @grpc/reflection does the same with path.join(__dirname, '../../proto/grpc/reflection/...').
const grpcReflectionProto = {
  name: 'grpc-reflection-proto',
  setup(b) {
    b.onLoad({ filter: /@grpc[\\/]reflection[\\/]build[\\/]src[\\/]implementations[\\/]reflection-v1(alpha)?\.js$/ }, (args) => ({
      contents: readFileSync(args.path, 'utf8').replace("'../../proto/grpc/reflection/", "'proto/grpc/reflection/"),
      loader: 'js',
    }));
  },
};

const appDir = process.argv[2];
if (!appDir) {
  console.error('usage: bundle.mjs <app-dir>');
  process.exit(2);
}

// What `--version` and svcnet_build_info report: the release version, the commit, the build time.
const root = resolve(dirname(new URL(import.meta.url).pathname), '../..');
const git = (args) => {
  try {
    return execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
};
const dirty = git(['status', '--porcelain', '--untracked-files=no']) !== '';
const buildInfo = {
  version: JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8')).version,
  commit: `${git(['rev-parse', '--short=12', 'HEAD']) || 'unknown'}${dirty ? '-dirty' : ''}`,
  date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
};
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
  define: { 'import.meta.url': 'importMetaUrl', SVCNET_BUILD: JSON.stringify(buildInfo) },
  banner: { js: "const importMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
  plugins: [grpcHealthProto, grpcReflectionProto],
});
try {
  const healthPkg = dirname(require.resolve('grpc-health-check/package.json'));
  cpSync(resolve(healthPkg, 'proto'), resolve(appDir, 'dist/proto'), { recursive: true });
} catch {
  // Not a dependency of this workspace: nothing to copy.
}
try {
  const reflectionPkg = dirname(require.resolve('@grpc/reflection/package.json'));
  cpSync(resolve(reflectionPkg, 'build/proto/grpc'), resolve(appDir, 'dist/proto/grpc'), { recursive: true });
} catch {
  // Not a dependency of this workspace: nothing to copy.
}
