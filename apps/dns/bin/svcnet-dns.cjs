#!/usr/bin/env -S node --max-semi-space-size=2
// Entry point: run `npm run build` first; the bundle is dist/main.cjs. A 2 MiB young
// generation keeps the resident size down (answers allocate little; see the README).
require('../dist/main.cjs');
