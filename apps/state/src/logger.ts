import { pino, type Logger } from 'pino';

/** `-v N` onto pino levels: 0 info, 1-3 debug, 4+ trace. */
export function levelForVerbosity(v: number): 'info' | 'debug' | 'trace' {
  if (v >= 4) return 'trace';
  if (v >= 1) return 'debug';
  return 'info';
}

/** Structured JSON logs on stderr. */
export function createLogger(verbosity: number): Logger {
  return pino(
    { name: 'svcnet-state', level: levelForVerbosity(verbosity), base: { pid: process.pid } },
    pino.destination({ fd: 2, sync: false }),
  );
}
