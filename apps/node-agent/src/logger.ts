import { pino, type Logger } from 'pino';

/** kube-proxy's `-v N` mapped onto pino levels: 0 info, 1-3 debug, 4+ trace. */
export function levelForVerbosity(v: number): 'info' | 'debug' | 'trace' {
  if (v >= 4) return 'trace';
  if (v >= 1) return 'debug';
  return 'info';
}

/** Structured JSON logs on stderr (stdout is kept for --dump-rules output). */
export function createLogger(params: { verbosity: number; nodeName: string }): Logger {
  return pino(
    { name: 'svcnet-agent', level: levelForVerbosity(params.verbosity), base: { node: params.nodeName, pid: process.pid } },
    pino.destination({ fd: 2, sync: true }),
  );
}
