import { spawn } from 'node:child_process';

/** One command to run: a program and its arguments, never a shell line. */
export interface ExecRequest {
  /** Program name or path, e.g. `iptables-restore`. */
  file: string;
  args: readonly string[];
  /** Written to the program's stdin, then stdin is closed. */
  input?: string | Buffer;
  /** Kill the program after this long (default 60 s). */
  timeoutMs?: number;
  /**
   * Run inside this network namespace (`ip netns exec <ns> …`). Used by tests
   * and benchmarks; the agent itself is started inside its node's namespace.
   */
  netns?: string;
  /** Resolve with the exit code instead of rejecting on non-zero exit. */
  allowFailure?: boolean;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number;
  durationMs: number;
}

/** The OS seam: everything that touches the kernel goes through one of these. */
export interface NetExec {
  run(req: ExecRequest): Promise<ExecResult>;
}

/** A command failed (non-zero exit, signal, timeout, or could not start). */
export class NetExecError extends Error {
  override readonly name = 'NetExecError';
  readonly command: string;
  readonly exitCode: number;
  readonly stderr: string;

  constructor(params: { command: string; exitCode: number; stderr: string; cause?: unknown }) {
    const detail = params.stderr.trim().split('\n').slice(0, 5).join('; ');
    super(`${params.command} failed (exit ${params.exitCode})${detail ? `: ${detail}` : ''}`, { cause: params.cause });
    this.command = params.command;
    this.exitCode = params.exitCode;
    this.stderr = params.stderr;
  }
}

function describe(file: string, args: readonly string[]): string {
  const shown = args.length > 8 ? [...args.slice(0, 8), '…'] : args;
  return [file, ...shown].join(' ');
}

/** Runs programs with spawn (no shell), feeding stdin and collecting output. */
export class ProcessNetExec implements NetExec {
  run(req: ExecRequest): Promise<ExecResult> {
    const file = req.netns ? 'ip' : req.file;
    const args = req.netns ? ['netns', 'exec', req.netns, req.file, ...req.args] : [...req.args];
    const command = describe(req.file, req.args);
    const started = performance.now();
    return new Promise((resolve, reject) => {
      const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], timeout: req.timeoutMs ?? 60_000 });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stderr.on('data', (b: Buffer) => err.push(b));
      child.on('error', (cause) => reject(new NetExecError({ command, exitCode: -1, stderr: String(cause), cause })));
      child.on('close', (code, signal) => {
        const result: ExecResult = {
          stdout: Buffer.concat(out).toString('utf8'),
          stderr: Buffer.concat(err).toString('utf8'),
          exitCode: code ?? (signal ? 128 : -1),
          durationMs: performance.now() - started,
        };
        if (result.exitCode !== 0 && !req.allowFailure) {
          const why = signal ? `${result.stderr}\nkilled by ${signal}` : result.stderr;
          reject(new NetExecError({ command, exitCode: result.exitCode, stderr: why }));
        } else {
          resolve(result);
        }
      });
      // EPIPE when the program exits without reading stdin is reported by 'close'.
      child.stdin.on('error', () => undefined);
      child.stdin.end(req.input ?? '');
    });
  }
}

/** A scripted response for FakeNetExec: match on program (and optionally args). */
export interface FakeResponse {
  file: string;
  match?: (req: ExecRequest) => boolean;
  result?: Partial<ExecResult>;
  /** Fail with this exit code and stderr. */
  fail?: { exitCode: number; stderr: string };
}

/** Records every call and answers from a script; for unit tests only. */
export class FakeNetExec implements NetExec {
  readonly calls: ExecRequest[] = [];
  private readonly responses: FakeResponse[] = [];

  /** Adds a response; later ones take precedence over earlier ones. */
  on(response: FakeResponse): this {
    this.responses.unshift(response);
    return this;
  }

  async run(req: ExecRequest): Promise<ExecResult> {
    this.calls.push({ ...req, args: [...req.args] });
    const r = this.responses.find((x) => x.file === req.file && (!x.match || x.match(req)));
    if (r?.fail && !req.allowFailure) {
      throw new NetExecError({ command: describe(req.file, req.args), ...r.fail });
    }
    return {
      stdout: r?.result?.stdout ?? '',
      stderr: r?.fail?.stderr ?? r?.result?.stderr ?? '',
      exitCode: r?.fail?.exitCode ?? r?.result?.exitCode ?? 0,
      durationMs: 0,
    };
  }

  /** The calls made to one program, in order. */
  callsTo(file: string): ExecRequest[] {
    return this.calls.filter((c) => c.file === file);
  }
}
