import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { startNatsServer, type NatsServerHandle } from './nats-server.js';

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1' });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

describe('startNatsServer', () => {
  let nats: NatsServerHandle;
  beforeAll(async () => {
    nats = await startNatsServer();
  });
  afterAll(async () => {
    await nats.cleanup();
  });

  it('listens on loopback and can be killed and restarted on the same port', async () => {
    expect(nats.url).toBe(`nats://127.0.0.1:${nats.port}`);
    expect(await canConnect(nats.port)).toBe(true);
    await nats.kill();
    expect(await canConnect(nats.port)).toBe(false);
    await nats.restart();
    expect(await canConnect(nats.port)).toBe(true);
  });
});
