import type { PortRange } from './port-range.js';

/** Errors from binding that mean "try another port in the range". */
const RETRYABLE = new Set(['EADDRINUSE', 'EACCES']);

/** The range is exhausted: every port is taken by us or someone else. */
export class ProxyPortExhaustedError extends Error {
  override readonly name = 'ProxyPortExhaustedError';
}

/**
 * Hands out proxy ports from `--proxy-port-range` (or port 0 = the kernel's
 * choice), skipping ports another program already holds.
 */
export class ProxyPortAllocator {
  private readonly used = new Set<number>();
  private cursor: number;

  constructor(private readonly range: PortRange | undefined) {
    this.cursor = range?.min ?? 0;
  }

  /** Calls `bind` with candidate ports until one works; resolves with the bound port. */
  async open(bind: (port: number) => Promise<number>): Promise<number> {
    if (!this.range) return bind(0);
    const size = this.range.max - this.range.min + 1;
    for (let i = 0; i < size; i++) {
      const port = this.cursor;
      this.cursor = port >= this.range.max ? this.range.min : port + 1;
      if (this.used.has(port)) continue;
      try {
        const bound = await bind(port);
        this.used.add(bound);
        return bound;
      } catch (err) {
        if (!RETRYABLE.has((err as NodeJS.ErrnoException).code ?? '')) throw err;
      }
    }
    throw new ProxyPortExhaustedError(`no free proxy port in ${this.range.min}-${this.range.max}`);
  }

  release(port: number): void {
    this.used.delete(port);
  }
}
