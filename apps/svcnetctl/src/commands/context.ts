/**
 * What every command gets: the state API, the resolved namespace, and the
 * outside world (output streams, files, clock) so commands are testable.
 */
import type { StateApi } from '@svcnet/client';

export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Reads a manifest file; `-` is standard input. */
  readFile(path: string): Promise<string>;
  /** Lists manifest files under a directory given to `-f` (`.yaml`, `.yml`, `.json`). */
  expandPath(path: string): Promise<string[]>;
  now(): Date;
}

export interface CommandContext {
  io: CliIo;
  api: StateApi;
  /** `-n`, or `default`. */
  namespace: string;
  /** True when `-n` was given (manifests naming another namespace are then refused). */
  namespaceExplicit: boolean;
}
