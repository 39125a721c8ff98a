#!/usr/bin/env node
// Packs every program (and @svcnet/client) into an npm tarball an operator installs
// with only Node.js: `npm install -g --prefix /usr/local svcnet-state-<v>.tgz`.
//   node tools/build/pack.mjs [OUT_DIR]   (default dist/packages; run `npm run build` first)
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const out = resolve(process.argv[2] ?? join(root, 'dist/packages'));
mkdirSync(out, { recursive: true });
const apps = ['allocator', 'state', 'node-agent', 'dns', 'svcnetctl'].map((a) => join(root, 'apps', a));
const packages = [...apps, join(root, 'libs/client/dist')];
for (const dir of packages) {
  if (!existsSync(join(dir, dir.endsWith('dist') ? 'package.json' : 'dist/main.cjs'))) {
    console.error(`pack: ${dir} is not built; run npm run build first`);
    process.exit(1);
  }
  const copied = [];
  for (const f of ['LICENSE', 'CHANGELOG.md']) {
    if (!existsSync(join(dir, f))) {
      copyFileSync(join(root, f), join(dir, f));
      copied.push(join(dir, f));
    }
  }
  try {
    const name = execFileSync('npm', ['pack', '--pack-destination', out, '--loglevel=error'], { cwd: dir, encoding: 'utf8' }).trim().split('\n').pop();
    console.log(join(out, name));
  } finally {
    for (const f of copied) rmSync(f, { force: true });
  }
}
