/**
 * The userspace kernel test's topology: a BridgeLab (libs/testing) named
 * `usp-<id>-*`, plus the line-oriented client of the in-namespace driver.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { BridgeLab } from '@svcnet/testing';

/** A node with a bridge and pod namespaces, `usp-<random>-…`. */
export function newUspLab(): BridgeLab {
  return new BridgeLab({ prefix: `usp-${randomBytes(3).toString('hex')}` });
}

/** Line-oriented JSON client for driver.ts running under `ip netns exec`. */
export class DriverClient {
  private buffer = '';
  private readonly waiting: Array<(line: string) => void> = [];

  constructor(private readonly child: ChildProcess) {
    child.stdout!.on('data', (d: Buffer) => {
      this.buffer += String(d);
      let i: number;
      while ((i = this.buffer.indexOf('\n')) >= 0) {
        const line = this.buffer.slice(0, i);
        this.buffer = this.buffer.slice(i + 1);
        this.waiting.shift()?.(line);
      }
    });
  }

  /** Waits for the driver's ready line. */
  ready(): Promise<Record<string, unknown>> {
    return new Promise((resolve) => this.waiting.push((l) => resolve(JSON.parse(l) as Record<string, unknown>)));
  }

  async send<T = Record<string, unknown>>(command: object): Promise<T & { ok: boolean; error?: string }> {
    const reply = new Promise<string>((resolve) => this.waiting.push(resolve));
    this.child.stdin!.write(JSON.stringify(command) + '\n');
    const r = JSON.parse(await reply) as T & { ok: boolean; error?: string };
    if (!r.ok) throw new Error(`driver: ${r.error}`);
    return r;
  }
}
