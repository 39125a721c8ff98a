// svcnetctl: the kubectl-like CLI of svcnet. See README.md.
import { pino } from 'pino';
import { runCli } from './cli.js';
import { nodeIo } from './node-io.js';
import { GrpcStateApi } from './state-api.js';

runCli(process.argv.slice(2), {
  io: nodeIo,
  env: process.env,
  connect: ({ server, timeoutMs, verbosity }) => {
    // kubectl's -v 6 shows each request; below that the CLI stays quiet.
    const logger = pino({ level: verbosity >= 6 ? 'debug' : 'warn' }, pino.destination(2));
    return new GrpcStateApi({ server, timeoutMs, logger });
  },
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
