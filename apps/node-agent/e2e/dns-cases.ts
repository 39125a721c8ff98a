/**
 * The data-plane table's DNS rows: names served by svcnet-dns, itself reached
 * through the kube-dns ClusterIP that the agents under test program (so every
 * proxy mode carries its own DNS traffic). The suite runs svcnet-dns with a
 * 1 s TTL (DNS_TTL_SECONDS) to keep these quick.
 */
import { expect } from 'vitest';
import type { CaseContext, DataplaneCase } from './case-types.js';
import { connectByName, createDnsService, dnsQuery } from './dns-probe.js';
import { deleteService, eventually, SERVICE_PORT, sleep, TARGET_PORT, whoServer } from './harness.js';

/** svcnet-dns's --ttl in the data-plane suites. */
export const DNS_TTL_SECONDS = 1;
const D = 'cluster.local';

async function answersBecome(ctx: CaseContext, from: string, name: string, type: 'A' | 'SRV', want: string[], timeoutMs = 10_000): Promise<void> {
  let last = '';
  await eventually(`${from}: ${type} ${name} → [${want.join(', ')}]`, timeoutMs, async () => {
    const r = await dnsQuery(ctx.cluster, from, name, type);
    last = JSON.stringify(r);
    return r.rcode === 'NOERROR' && JSON.stringify(r.answers) === JSON.stringify([...want].sort()) ? true : undefined;
  }).catch((err: unknown) => {
    throw new Error(`${String(err)}; last reply: ${last}`);
  });
}

export const dnsCases: readonly DataplaneCase[] = [
  {
    name: 'DNS: a service resolves by short name and FQDN from pods on both nodes, and is reached by name',
    async run(ctx) {
      const ip = ctx.web.spec.clusterIP;
      for (const from of ['client-1', 'client-2']) {
        const fqdn = await dnsQuery(ctx.cluster, from, `web.default.svc.${D}`);
        expect(fqdn, `${from} FQDN`).toMatchObject({ rcode: 'NOERROR', answers: [`A ${ip}`] });
        expect(fqdn.ttls).toEqual([DNS_TTL_SECONDS]);
        for (const name of ['web', 'web.default', `web.default.svc.${D}`]) {
          const got = await connectByName(ctx.cluster, from, name, SERVICE_PORT);
          expect(got, `${from} → ${name}:${SERVICE_PORT}`).toMatchObject({ address: ip, error: '' });
          expect(got.reply).toMatch(/ web-[12]$/);
        }
      }
    },
  },
  {
    name: 'DNS: an SRV lookup gives the service port (ClusterIP) and the pod port with per-pod targets (headless)',
    async run(ctx) {
      const named = await createDnsService(ctx.cluster, { name: 'named', selector: { app: 'web' }, ports: [{ name: 'http', port: SERVICE_PORT, targetPort: TARGET_PORT }] });
      const hl = await createDnsService(ctx.cluster, {
        name: 'web-hl',
        clusterIP: 'None',
        selector: { app: 'web' },
        ports: [{ name: 'http', port: SERVICE_PORT, targetPort: TARGET_PORT }],
      });
      try {
        await answersBecome(ctx, 'client-1', `_http._tcp.named.default.svc.${D}`, 'SRV', [`SRV ${SERVICE_PORT} named.default.svc.${D}`]);
        const pods = ['web-1', 'web-2'].map((p) => ctx.podIp(p));
        const targets = pods.map((ip) => `SRV ${TARGET_PORT} ${ip.replace(/\./g, '-')}.web-hl.default.svc.${D}`);
        await answersBecome(ctx, 'client-2', `_http._tcp.web-hl.default.svc.${D}`, 'SRV', targets);
        // Each SRV target resolves, and the port it gives answers.
        const target = `${pods[1]!.replace(/\./g, '-')}.web-hl.default.svc.${D}`;
        const got = await connectByName(ctx.cluster, 'client-1', target, TARGET_PORT);
        expect(got, `client-1 → ${target}:${TARGET_PORT}`).toMatchObject({ address: pods[1], reply: expect.stringMatching(/ web-2$/) });
      } finally {
        await deleteService(ctx.cluster, 'default', named.metadata.name);
        await deleteService(ctx.cluster, 'default', hl.metadata.name);
      }
    },
  },
  {
    name: 'DNS: a headless service resolves to its ready pods only; a pod made not ready disappears',
    async run(ctx) {
      const who = whoServer(TARGET_PORT);
      await Promise.all([
        ctx.cluster.addPod({ name: 'hl-1', node: 'node1', labels: { app: 'hl' }, ports: [{ port: TARGET_PORT }], command: who }),
        ctx.cluster.addPod({ name: 'hl-2', node: 'node2', labels: { app: 'hl' }, ports: [{ port: TARGET_PORT }], command: who }),
      ]);
      const svc = await createDnsService(ctx.cluster, { name: 'hl', clusterIP: 'None', selector: { app: 'hl' }, ports: [{ name: '', port: TARGET_PORT, targetPort: TARGET_PORT }] });
      try {
        expect(svc.spec.clusterIP).toBe('None');
        const name = `hl.default.svc.${D}`;
        await answersBecome(ctx, 'client-1', name, 'A', [`A ${ctx.podIp('hl-1')}`, `A ${ctx.podIp('hl-2')}`]);
        await ctx.cluster.setPodReady('hl-2', false);
        await answersBecome(ctx, 'client-2', name, 'A', [`A ${ctx.podIp('hl-1')}`]);
        // The name now leads to the ready pod only, from a pod resolving through its search list.
        const got = await connectByName(ctx.cluster, 'client-2', 'hl', TARGET_PORT);
        expect(got).toMatchObject({ address: ctx.podIp('hl-1'), reply: expect.stringMatching(/ hl-1$/) });
        await ctx.cluster.setPodReady('hl-1', false);
        await eventually('no ready pod left: NXDOMAIN (spec 2.4.1)', 10_000, async () =>
          (await dnsQuery(ctx.cluster, 'client-1', name)).rcode === 'NXDOMAIN' ? true : undefined,
        );
      } finally {
        // The pods stay until the suite ends: a later case's pod reusing an address that the
        // other node has just talked to directly meets a stale neighbour entry for seconds.
        await deleteService(ctx.cluster, 'default', 'hl');
      }
    },
  },
  {
    name: 'DNS: a deleted service gives NXDOMAIN within the TTL',
    async run(ctx) {
      const svc = await createDnsService(ctx.cluster, { name: 'shortlived', selector: { app: 'web' }, ports: [{ name: '', port: SERVICE_PORT, targetPort: TARGET_PORT }] });
      const name = `shortlived.default.svc.${D}`;
      await answersBecome(ctx, 'client-1', name, 'A', [`A ${svc.spec.clusterIP}`]);
      await deleteService(ctx.cluster, 'default', 'shortlived');
      const deletedAt = Date.now();
      let gone = 0;
      await eventually(`${name} is NXDOMAIN`, 10_000, async () => {
        const r = await dnsQuery(ctx.cluster, 'client-2', name);
        if (r.rcode !== 'NXDOMAIN') return undefined;
        gone = Date.now() - deletedAt;
        return true;
      }, 50);
      // A client may hold the positive answer for one TTL; by then the server must say NXDOMAIN.
      expect(gone, `NXDOMAIN ${gone} ms after the delete`).toBeLessThanOrEqual(DNS_TTL_SECONDS * 1000 + 1500);
      await sleep(DNS_TTL_SECONDS * 1000);
      const again = await connectByName(ctx.cluster, 'client-1', 'shortlived', SERVICE_PORT);
      // Every search-list name is NXDOMAIN; the bare name is outside the cluster domain and, the
      // cluster's svcnet-dns having no --upstream, REFUSED — which glibc reports as EAI_AGAIN.
      expect(again, 'the short name no longer resolves').toMatchObject({ address: '', error: expect.stringMatching(/^(ENOTFOUND|EAI_AGAIN)$/) });
      console.info(`[${ctx.cluster.name}] NXDOMAIN ${gone} ms after the service was deleted (TTL ${DNS_TTL_SECONDS} s)`);
    },
  },
];
