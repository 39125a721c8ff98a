/**
 * The real outside world of the CLI: process streams, files, the clock.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { CliIo } from './commands/context.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const MANIFEST_FILE = /\.(ya?ml|json)$/;

export const nodeIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  readFile: (path) => (path === '-' ? readStdin() : readFile(path, 'utf8')),
  async expandPath(path) {
    if (!(await stat(path)).isDirectory()) return [path];
    // Like kubectl -f <dir>: the manifest files directly inside, in name order.
    const names = (await readdir(path)).filter((n) => MANIFEST_FILE.test(n)).sort();
    return names.map((n) => join(path, n));
  },
  now: () => new Date(),
};
