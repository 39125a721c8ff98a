// svcnetctl: the kubectl-like CLI of svcnet. See README.md.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { pino } from 'pino';
import { runCli } from './cli.js';
import { nodeIo } from './node-io.js';
import { StateClient } from '@svcnet/client';
import { quietIpServernameWarning } from '@svcnet/service-runtime';

quietIpServernameWarning();

runCli(process.argv.slice(2), {
  io: nodeIo,
  env: process.env,
  connect: ({ server, timeoutMs, verbosity, tls }) => {
    // kubectl's -v 6 shows each request; below that the CLI stays quiet.
    const logger = pino({ level: verbosity >= 6 ? 'debug' : 'warn' }, pino.destination(2));
    return new StateClient({ server, timeoutMs, logger, ...(tls ? { tls } : {}) });
  },
  readText: (path) => (existsSync(path) ? readFileSync(path, 'utf8') : undefined),
  home: homedir(),
}).then(
  // exitCode (not exit()) lets a slow stdout pipe drain first.
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
