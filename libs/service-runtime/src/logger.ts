import { pino, type Logger } from 'pino';

/** kube-proxy's `-v N` mapped onto pino levels: 0 info, 1-3 debug, 4+ trace. */
export function levelForVerbosity(v: number): 'info' | 'debug' | 'trace' {
  if (v >= 4) return 'trace';
  if (v >= 1) return 'debug';
  return 'info';
}

export interface ServiceLoggerParams {
  /** The program (`svcnet-allocator`…), in every line's `name`. */
  name: string;
  verbosity: number;
  /** Fields on every line besides pid (the agent adds its node). */
  base?: Record<string, string>;
  /** Write each line before going on (the agent: its stdout carries --dump-rules). Default false. */
  sync?: boolean;
}

/** Structured JSON logs on stderr. */
export function createServiceLogger(params: ServiceLoggerParams): Logger {
  return pino(
    { name: params.name, level: levelForVerbosity(params.verbosity), base: { ...params.base, pid: process.pid } },
    pino.destination({ fd: 2, sync: params.sync ?? false }),
  );
}
