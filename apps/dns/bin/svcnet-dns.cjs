#!/usr/bin/env node
// Entry point: run `npm run build` first; the bundle is dist/main.cjs.
require('../dist/main.cjs');
