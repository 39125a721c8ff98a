import type { Logger } from 'pino';

/** Where signals come from and how to exit; the process by default, injectable for tests. */
export interface SignalDeps {
  once(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
  exit(code: number): void;
}

const processDeps: SignalDeps = {
  once: (signal, listener) => process.once(signal, listener),
  exit: (code) => process.exit(code),
};

export interface StopOnSignalsOptions {
  /** The log line (default "shutting down"). */
  message?: string;
  deps?: SignalDeps;
}

/**
 * On SIGTERM or SIGINT: log it, run `stop` once, then exit 0 — or 1 with the
 * error logged when stopping fails. A second signal of the kind already
 * received ends the process at once (Node's default), for a stop that hangs.
 */
export function stopOnSignals(log: Logger, stop: () => Promise<void>, options: StopOnSignalsOptions = {}): void {
  const deps = options.deps ?? processDeps;
  let stopping = false;
  const shutdown = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, options.message ?? 'shutting down');
    stop().then(
      () => deps.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        deps.exit(1);
      },
    );
  };
  deps.once('SIGTERM', shutdown);
  deps.once('SIGINT', shutdown);
}
