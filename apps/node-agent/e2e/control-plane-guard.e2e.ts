/**
 * A service whose external IP and port equal the NATS server's must not capture
 * the agents' own connection to it (CVE-2020-8554's shape): the agent refuses
 * to program that address, says so, and a restarted agent still reconnects and
 * hears every later change. Real kernel (iptables-legacy) in namespaces; needs root.
 */
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, PodCommands } from '@svcnet/cluster';
import { e2eName } from '@svcnet/testing';
import { createService, deleteService } from './harness.js';

const notRoot = process.getuid?.() === 0 ? undefined : 'needs root to create network namespaces';
const NAME = e2eName('nagcpg');
const CONTROL_PLANE_IP = '192.168.77.2';

async function until(what: string, fn: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe.skipIf(notRoot !== undefined)(`control-plane addresses are never programmed${notRoot ? ` — skipped: ${notRoot}` : ''}`, () => {
  let cluster: Cluster | undefined;
  const saved = async (): Promise<string> => (await cluster!.exec('node1', ['iptables-legacy-save', '-t', 'nat'])).stdout;
  const agentLog = (): string => readFileSync(cluster!.logPath('agent-node1'), 'utf8');

  beforeAll(async () => {
    process.env.XTABLES_LOCKFILE = join(tmpdir(), `svcnet-${NAME}.xtables.lock`);
    cluster = await Cluster.up({
      name: NAME,
      nodes: 1,
      proxyMode: 'iptables',
      iptables: 'legacy',
      // One NATS server: with three, capturing one address:port would leave the agents the other two.
      natsServers: 1,
      extraArgs: {
        state: ['--service-external-ip-cidrs', `${CONTROL_PLANE_IP}/32`],
        agent: ['--sync-period', '2s', '--min-sync-period', '50ms'],
      },
    });
    await cluster.addPod({ name: 'who', node: 1, labels: { app: 'who' }, ports: [{ name: 'who', port: 8080 }], command: PodCommands.tcpWho(8080) });
  });
  afterAll(async () => {
    if (cluster) await cluster.down();
    else await Cluster.down({ name: NAME });
  });

  it('an external IP on the NATS address is refused by the agent, which still reconnects after a restart', async () => {
    await createService(cluster!, { name: 'capture', port: 4222, selector: { app: 'who' }, externalIPs: [CONTROL_PLANE_IP] });
    await until('the service is programmed', async () => (await saved()).includes('default/capture '));
    const rules = await saved();
    // Why the attack below fails: the address was never programmed, and the agent said so.
    expect(rules).not.toMatch(new RegExp(`-d ${CONTROL_PLANE_IP.replace(/\./g, '\\.')}/32 .*--dport 4222`));
    expect(agentLog()).toContain("not programming service addresses that equal this agent's own NATS servers");
    const metrics = (await cluster!.exec('node1', ['curl', '-s', 'http://127.0.0.1:10249/metrics'])).stdout;
    expect(metrics).toMatch(/^svcnet_agent_control_plane_addresses_refused_total [1-9]/m);

    // The attack: programmed, the external IP would DNAT the node's own NATS connection to the pod,
    // so a restarted agent could never reconnect and would never hear of later changes.
    await cluster!.restartAgent('node1');
    await deleteService(cluster!, 'default', 'capture');
    await createService(cluster!, { name: 'after', selector: { app: 'who' } });
    await until('the restarted agent programs a new service', async () => (await saved()).includes('default/after '), 30_000);
    await until('and removes the deleted one', async () => !(await saved()).includes('default/capture '));
  });
});
