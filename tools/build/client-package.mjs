#!/usr/bin/env node
// Builds @svcnet/client for use outside this repository: libs/client/dist with one ESM
// bundle (svcnet's own libs inlined; @grpc/grpc-js, @bufbuild/protobuf and yaml as
// dependencies), its declarations, and a package.json whose `exports` carry the types.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const lib = join(root, 'libs/client');
const dist = join(lib, 'dist');
rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });
const rootPkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const external = ['@grpc/grpc-js', '@bufbuild/protobuf', 'yaml'];
await build({
  entryPoints: [join(lib, 'src/index.ts')],
  outfile: join(dist, 'index.js'),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  sourcemap: true,
  external: [...external, '@grpc/proto-loader', '@grpc/reflection', 'grpc-health-check'],
  logLevel: 'warning',
});
// Types: the client's, the API's and the model's declarations side by side, with the
// workspace imports rewritten to relative ones (svcnet's own libs are not published).
const stage = join(dist, '.types-src');
for (const name of ['client', 'api', 'model']) {
  cpSync(join(root, 'libs', name, 'src'), join(stage, name), { recursive: true, filter: (f) => !f.endsWith('.spec.ts') });
}
const rewrite = (dir, depth) => {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) rewrite(path, depth + 1);
    else if (entry.name.endsWith('.ts')) {
      const up = '../'.repeat(depth);
      writeFileSync(path, readFileSync(path, 'utf8').replace(/'@svcnet\/(api|model)'/g, (_, lib) => `'${up}${lib}/index.js'`));
    }
  }
};
for (const name of ['client', 'api', 'model']) rewrite(join(stage, name), 1);
writeFileSync(
  join(stage, 'tsconfig.json'),
  JSON.stringify({
    extends: join(root, 'tsconfig.base.json'),
    compilerOptions: { declaration: true, emitDeclarationOnly: true, outDir: join(dist, 'types'), rootDir: stage, noUnusedLocals: false },
    include: ['**/*.ts'],
  }),
);
execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(stage, 'tsconfig.json')], { stdio: 'inherit', cwd: root });
rmSync(stage, { recursive: true, force: true });

const dependencies = Object.fromEntries(external.map((d) => [d, rootPkg.dependencies[d]]));
writeFileSync(
  join(dist, 'package.json'),
  `${JSON.stringify(
    {
      name: '@svcnet/client',
      version: rootPkg.version,
      description: 'Promise-based clients of svcnet.v1.State and svcnet.v1.Allocator (TLS, deadlines, failover)',
      license: rootPkg.license,
      type: 'module',
      main: './index.js',
      types: './types/client/index.d.ts',
      exports: { '.': { types: './types/client/index.d.ts', import: './index.js' } },
      files: ['index.js', 'index.js.map', 'types/', 'README.md', 'LICENSE', 'CHANGELOG.md'],
      engines: rootPkg.engines,
      dependencies,
    },
    null,
    2,
  )}\n`,
);
writeFileSync(join(dist, 'README.md'), readFileSync(join(lib, 'README.md'), 'utf8'));
