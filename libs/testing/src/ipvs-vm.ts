/**
 * A throw-away qemu VM (Debian kernel with IPVS) and a NetExec that runs
 * commands inside it over a virtio-serial channel. The same backend code the
 * agent runs against the host kernel drives the VM's kernel through it.
 * Wire format: see tools/ipvs-vm/init.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, openSync, closeSync, readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NetExecError, type ExecRequest, type ExecResult, type NetExec } from '@svcnet/netexec';

/** Where tools/ipvs-vm/build.sh puts the kernel and initrd (outside the repo). */
export const IPVS_VM_CACHE = process.env['SVCNET_IPVS_VM_CACHE'] ?? '/var/cache/svcnet-ipvs-vm';

/** The repo root: the nearest folder above this file (or its bundle) holding tools/ipvs-vm, else the cwd. */
function repoRoot(): string {
  const url = (import.meta as { url?: string }).url;
  let dir = url ? dirname(fileURLToPath(url)) : process.cwd();
  for (let i = 0; i < 8; i++) {
    if (existsSync(join(dir, 'tools/ipvs-vm/build.sh'))) return dir;
    dir = resolve(dir, '..');
  }
  return process.env['SVCNET_REPO_ROOT'] ?? process.cwd();
}

/** Builds (or finds up to date) the VM's kernel + initrd; installs qemu/cpio/busybox if missing. */
export async function buildIpvsVm(): Promise<{ kernel: string; initrd: string }> {
  const script = join(repoRoot(), 'tools/ipvs-vm/build.sh');
  await new Promise<void>((ok, fail) => {
    execFile('bash', [script], { timeout: 600_000, maxBuffer: 16 << 20 }, (err, _out, stderr) =>
      err ? fail(new Error(`ipvs-vm build failed: ${stderr || String(err)}`, { cause: err })) : ok(),
    );
  });
  return { kernel: join(IPVS_VM_CACHE, 'vmlinuz'), initrd: join(IPVS_VM_CACHE, 'initrd.cpio.gz') };
}

interface Pending {
  resolve: (r: { exitCode: number; stdout: string; stderr: string }) => void;
  reject: (e: Error) => void;
}

/** One request at a time over the VM's channel socket (the guest side is a serial loop). */
export class VmChannel {
  private buf = Buffer.alloc(0);
  private pending: Pending | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private nextId = 1;
  private closedError: Error | undefined;

  constructor(private readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.drain();
    });
    socket.on('close', () => this.fail(new Error('VM channel closed')));
    socket.on('error', (e) => this.fail(e));
  }

  private fail(e: Error): void {
    this.closedError ??= e;
    this.pending?.reject(e);
    this.pending = undefined;
  }

  private drain(): void {
    if (!this.pending) return;
    const nl = this.buf.indexOf(10);
    if (nl < 0) return;
    const header = this.buf.subarray(0, nl).toString('utf8').trim().split(/\s+/);
    if (header[0] !== 'RES') {
      this.buf = this.buf.subarray(nl + 1);
      this.drain();
      return;
    }
    const [exitCode, outLen, errLen] = header.slice(2).map(Number) as [number, number, number];
    if (this.buf.length < nl + 1 + outLen + errLen) return;
    const stdout = this.buf.subarray(nl + 1, nl + 1 + outLen).toString('utf8');
    const stderr = this.buf.subarray(nl + 1 + outLen, nl + 1 + outLen + errLen).toString('utf8');
    this.buf = this.buf.subarray(nl + 1 + outLen + errLen);
    const p = this.pending;
    this.pending = undefined;
    p.resolve({ exitCode, stdout, stderr });
  }

  /** Runs argv in the guest; serialized with every other call. */
  call(argv: readonly string[], input: string | Buffer = '', timeoutMs = 60_000): Promise<{ exitCode: number; stdout: string; stderr: string }> {
    const run = async (): Promise<{ exitCode: number; stdout: string; stderr: string }> => {
      if (this.closedError) throw this.closedError;
      const data = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
      const id = this.nextId++;
      // One argument per line keeps the guest loop fork-free; a newline inside one can't be framed.
      if (argv.some((a) => a.includes('\n'))) throw new Error(`VM channel: an argument contains a newline: ${argv.join(' ')}`);
      const head = [`REQ ${id} ${argv.length} ${data.length}`, ...argv].join('\n') + '\n';
      return new Promise((resolveCall, rejectCall) => {
        const timer = setTimeout(() => this.fail(new Error(`VM command timed out after ${timeoutMs} ms: ${argv.join(' ')}`)), timeoutMs);
        this.pending = {
          resolve: (r) => (clearTimeout(timer), resolveCall(r)),
          reject: (e) => (clearTimeout(timer), rejectCall(e)),
        };
        this.socket.write(Buffer.concat([Buffer.from(head, 'utf8'), data]));
      });
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  close(): void {
    this.socket.destroy();
  }
}

function describeCommand(file: string, args: readonly string[]): string {
  return [file, ...(args.length > 8 ? [...args.slice(0, 8), '…'] : args)].join(' ');
}

/** NetExec over the VM channel: same semantics as ProcessNetExec (netns → `ip netns exec`). */
export class VmNetExec implements NetExec {
  constructor(private readonly channel: VmChannel) {}

  async run(req: ExecRequest): Promise<ExecResult> {
    const argv = req.netns ? ['ip', 'netns', 'exec', req.netns, req.file, ...req.args] : [req.file, ...req.args];
    const started = performance.now();
    const r = await this.channel.call(argv, req.input ?? '', req.timeoutMs ?? 60_000);
    const result: ExecResult = { ...r, durationMs: performance.now() - started };
    if (r.exitCode !== 0 && !req.allowFailure) {
      throw new NetExecError({ command: describeCommand(req.file, req.args), exitCode: r.exitCode, stderr: r.stderr });
    }
    return result;
  }
}

/** A running IPVS test VM. */
export interface IpvsVmHandle {
  readonly exec: VmNetExec;
  readonly pid: number | undefined;
  /** Seconds from spawn until the channel answered. */
  readonly bootSeconds: number;
  /** The guest console so far (kernel + init messages). */
  consoleLog(): string;
  /** Powers the VM off (kills qemu by PID if it does not stop) and removes its temp dir. */
  stop(): Promise<void>;
}

export interface StartIpvsVmOptions {
  memoryMb?: number;
  /** Give up on boot after this long (default 300 s: TCG on a loaded machine is slow). */
  bootTimeoutMs?: number;
}

/** Boots the VM under qemu's software emulation and waits for the command channel. */
export async function startIpvsVm(options: StartIpvsVmOptions = {}): Promise<IpvsVmHandle> {
  const { kernel, initrd } = await buildIpvsVm();
  const dir = mkdtempSync(join(tmpdir(), 'svcnet-ipvs-vm-'));
  const sock = join(dir, 'chan.sock');
  const logPath = join(dir, 'console.log');
  const logFd = openSync(logPath, 'w');
  const started = performance.now();
  // prettier-ignore
  const args = [
    '-accel', 'tcg', '-cpu', 'qemu64', '-m', String(options.memoryMb ?? 768), '-smp', '1', '-nic', 'none',
    '-kernel', kernel, '-initrd', initrd, '-append', 'console=ttyS0 quiet panic=-1',
    '-nographic', '-no-reboot', '-monitor', 'none', '-serial', 'stdio',
    '-device', 'virtio-serial-pci', '-chardev', `socket,id=svc0,path=${sock},server=on,wait=off`,
    '-device', 'virtserialport,chardev=svc0,name=svcnet.0',
  ];
  const child: ChildProcess = spawn('qemu-system-x86_64', args, { stdio: ['ignore', logFd, logFd] });
  closeSync(logFd);
  const consoleLog = (): string => (existsSync(logPath) ? readFileSync(logPath, 'utf8') : '');
  let exited = false;
  child.on('exit', () => (exited = true));
  const kill = (): void => {
    if (!exited && child.pid) child.kill('SIGKILL');
  };
  try {
    const deadline = Date.now() + (options.bootTimeoutMs ?? 300_000);
    while (!existsSync(sock)) {
      if (exited || Date.now() > deadline) throw new Error(`qemu did not start: ${consoleLog()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const socket = await new Promise<Socket>((ok, fail) => {
      const s = connect(sock);
      s.once('connect', () => ok(s));
      s.once('error', fail);
    });
    const channel = new VmChannel(socket);
    const exec = new VmNetExec(channel);
    const left = Math.max(1_000, deadline - Date.now());
    const ping = await channel.call(['true'], '', left).catch((e: unknown) => {
      throw new Error(`VM channel did not answer: ${String(e)}\n${consoleLog()}`, { cause: e });
    });
    if (ping.exitCode !== 0) throw new Error(`VM ping failed: ${ping.stderr}`);
    const bootSeconds = (performance.now() - started) / 1000;
    return {
      exec,
      pid: child.pid,
      bootSeconds,
      consoleLog,
      async stop() {
        // poweroff -f never answers: don't wait for it.
        void channel.call(['poweroff', '-f'], '', 5_000).catch(() => undefined);
        const gone = new Promise<void>((r) => (exited ? r() : child.once('exit', () => r())));
        await Promise.race([gone, new Promise((r) => setTimeout(r, 5_000))]);
        kill();
        await Promise.race([gone, new Promise((r) => setTimeout(r, 2_000))]);
        channel.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    kill();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}
