import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, utimesSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { withStateLock } from './state-file.js';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'svcnet-cluster-lock-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('withStateLock', () => {
  it('serializes read-modify-write sections', async () => {
    const dir = tempDir();
    let counter = 0;
    const bump = () =>
      withStateLock(dir, async () => {
        const seen = counter;
        await new Promise((r) => setTimeout(r, 5));
        counter = seen + 1;
      });
    await Promise.all(Array.from({ length: 8 }, bump));
    expect(counter).toBe(8);
    expect(existsSync(join(dir, 'cluster.lock'))).toBe(false);
  });

  const stale = [
    { name: 'holder died', content: () => String(spawnSync('true').pid), takesOver: true },
    { name: 'holder alive (this process)', content: () => String(process.pid), takesOver: false },
  ];
  it.each(stale)('an old lock whose $name', async ({ content, takesOver }) => {
    const dir = tempDir();
    const lock = join(dir, 'cluster.lock');
    writeFileSync(lock, content());
    const old = new Date(Date.now() - 10_000);
    utimesSync(lock, old, old);
    const run = withStateLock(dir, async () => 'ran', 300);
    if (takesOver) await expect(run).resolves.toBe('ran');
    else await expect(run).rejects.toThrow(/held by another/);
  });

  it('never takes over a brand-new lock even if it holds no PID yet', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'cluster.lock'), '');
    await expect(withStateLock(dir, async () => 'ran', 300)).rejects.toThrow(/held by another/);
  });
});
