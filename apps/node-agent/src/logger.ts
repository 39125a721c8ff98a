import type { Logger } from 'pino';
import { createServiceLogger } from '@svcnet/service-runtime';

/** Structured JSON logs on stderr, written synchronously (stdout is kept for --dump-rules output). */
export function createLogger(params: { verbosity: number; nodeName: string }): Logger {
  return createServiceLogger({ name: 'svcnet-agent', verbosity: params.verbosity, base: { node: params.nodeName }, sync: true });
}
