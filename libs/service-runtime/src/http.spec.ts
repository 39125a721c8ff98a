import { afterEach, describe, expect, it } from 'vitest';
import type { Server } from 'node:http';
import { boundPort, closeHttp, listenHttp, sendText } from './http.js';

describe('listenHttp', () => {
  const open: Server[] = [];
  afterEach(async () => {
    for (const s of open.splice(0)) if (s.listening) await closeHttp(s);
  });

  it('serves on loopback, turns a rejected handler into a 500, and closes with keep-alive clients connected', async () => {
    const server = await listenHttp({ host: '127.0.0.1', port: 0 }, async (req, res) => {
      if (req.url === '/boom') throw new Error('handler failed');
      sendText(res, 200, 'text/plain', 'hello\n');
    });
    open.push(server);
    const port = boundPort(server);
    const ok = await fetch(`http://127.0.0.1:${port}/`);
    expect([ok.status, ok.headers.get('x-content-type-options'), await ok.text()]).toEqual([200, 'nosniff', 'hello\n']);
    const boom = await fetch(`http://127.0.0.1:${port}/boom`);
    expect([boom.status, await boom.text()]).toEqual([500, 'handler failed\n']);
    await closeHttp(server);
    expect(server.listening).toBe(false);
  });

  it('rejects when the port is taken instead of crashing later', async () => {
    const first = await listenHttp({ host: '127.0.0.1', port: 0 }, async (_req, res) => sendText(res, 200, 'text/plain', ''));
    open.push(first);
    await expect(listenHttp({ host: '127.0.0.1', port: boundPort(first) }, async () => undefined)).rejects.toThrow(/EADDRINUSE/);
  });
});
