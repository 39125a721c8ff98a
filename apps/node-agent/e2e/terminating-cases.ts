/**
 * The data-plane table's terminating-endpoint rows (KEP-1669, as kube-proxy
 * since 1.26): ready endpoints first; when a policy's candidates have no ready
 * one, the serving-and-terminating ones (Cluster and Local policies alike);
 * then nothing (refused). Pods are made terminating the way Kubernetes marks
 * them — `metadata.deletionTimestamp` and the Ready condition — through
 * `svcnetctl apply` of their own manifests; a selector-less service gets an
 * Endpoints manifest whose addresses carry EndpointSlice conditions.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { CaseContext, DataplaneCase } from './case-types.js';
import { createService, deleteService, holdConnection, nodePortOf, SERVICE_PORT, TARGET_PORT, waitForFile, whoHoldServer } from './harness.js';
import { expectRefused, reachExactly } from './policy-cases.js';

const HOLD_PORT = 8081;

/** Sets a pod's Ready condition and deletionTimestamp by applying its own manifest with svcnetctl. */
async function setPodConditions(ctx: CaseContext, name: string, c: { ready: boolean; terminating: boolean }): Promise<void> {
  const got = await ctx.cluster.ctl(['get', 'pod', name, '-o', 'json']);
  const m = JSON.parse(got.stdout) as { metadata: Record<string, unknown>; status: Record<string, unknown> };
  m.status.conditions = [{ type: 'Ready', status: c.ready ? 'True' : 'False' }];
  if (c.terminating) m.metadata.deletionTimestamp = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  else delete m.metadata.deletionTimestamp;
  const applied = await ctx.cluster.ctl(['apply', '-f', '-'], { input: JSON.stringify(m), allowFailure: true });
  expect(applied.exitCode, `svcnetctl apply of pod ${name}: ${applied.stderr}`).toBe(0);
}

export const terminatingCases: readonly DataplaneCase[] = [
  {
    name: 'terminating endpoints: ready first, then serving-terminating ones (Cluster and Local policies), then refused; an established connection is never cut',
    timeoutMs: 180_000,
    async run(ctx) {
      const ports = [{ port: TARGET_PORT }, { port: HOLD_PORT }];
      await ctx.cluster.addPod({ name: 'term-1', node: 'node1', labels: { app: 'term' }, ports, command: whoHoldServer(TARGET_PORT, HOLD_PORT) });
      await ctx.cluster.addPod({ name: 'term-2', node: 'node2', labels: { app: 'term' }, ports, command: whoHoldServer(TARGET_PORT, HOLD_PORT) });
      const files = { ready: join(ctx.cluster.state.stateDir, 'term-hold.ready'), stop: join(ctx.cluster.state.stateDir, 'term-hold.stop') };
      for (const f of Object.values(files)) rmSync(f, { force: true });
      let held: Promise<Awaited<ReturnType<typeof holdConnection>>> | undefined;
      try {
        const svc = await createService(ctx.cluster, { name: 'term', type: 'NodePort', selector: { app: 'term' } });
        const local = await createService(ctx.cluster, { name: 'term-local', type: 'NodePort', selector: { app: 'term' }, externalTrafficPolicy: 'Local' });
        const hold = await createService(ctx.cluster, { name: 'term-hold', selector: { app: 'term' }, port: HOLD_PORT, targetPort: HOLD_PORT });
        const ip = svc.spec.clusterIP;
        const [n1, lnp] = [ctx.cluster.nodeIp('node1'), nodePortOf(local)];
        await reachExactly(ctx, 'client-1', ip, SERVICE_PORT, ['term-1', 'term-2']);

        // A connection that stays open through every change below (retried until term-hold is programmed).
        for (let attempt = 1; ; attempt++) {
          rmSync(files.ready, { force: true });
          const h = holdConnection(ctx.cluster, 'client-1', hold.spec.clusterIP, HOLD_PORT, files);
          const up = await Promise.race([waitForFile(files.ready, 5_000).then(() => true, () => false), h.then(() => false)]);
          if (up) {
            held = h;
            break;
          }
          if (attempt === 5) throw new Error(`no held connection to term-hold: ${JSON.stringify(await Promise.race([h, Promise.resolve('still waiting')]))}`);
        }

        // term-1 terminating but still serving: new connections go to the ready term-2 only…
        await setPodConditions(ctx, 'term-1', { ready: true, terminating: true });
        await reachExactly(ctx, 'client-1', ip, SERVICE_PORT, ['term-2']);
        // …except where a policy's candidates have no ready endpoint: node1's Local policy falls back to term-1.
        await reachExactly(ctx, 'ext', n1, lnp, ['term-1']);

        // Both terminating and serving: the Cluster policy falls back to both.
        await setPodConditions(ctx, 'term-2', { ready: true, terminating: true });
        await reachExactly(ctx, 'client-1', ip, SERVICE_PORT, ['term-1', 'term-2']);
        await reachExactly(ctx, 'ext', n1, nodePortOf(svc), ['term-1', 'term-2']);

        // term-1 no longer serving (Ready False): never chosen again.
        await setPodConditions(ctx, 'term-1', { ready: false, terminating: true });
        await reachExactly(ctx, 'client-1', ip, SERVICE_PORT, ['term-2']);

        // None serving: refused, like a service without endpoints.
        await setPodConditions(ctx, 'term-2', { ready: false, terminating: true });
        await expectRefused(ctx, 'client-1', ip, SERVICE_PORT);

        writeFileSync(files.stop, '');
        const result = await held;
        held = undefined;
        expect(result.error, `the held connection to ${result.greeting} must survive: ${JSON.stringify(result)}`).toBe('');
        expect(result.sent, JSON.stringify(result)).toBeGreaterThan(10);
        expect(result.echoed, `every line echoed: ${JSON.stringify(result)}`).toBeGreaterThanOrEqual(result.sent - 1);
      } finally {
        writeFileSync(files.stop, '');
        await held?.catch(() => undefined);
        for (const name of ['term', 'term-local', 'term-hold']) await deleteService(ctx.cluster, 'default', name).catch(() => undefined);
        // The pods stay until the suite ends (as the DNS rows' do): a later row's pod reusing the
        // address of a deleted one meets a stale neighbour entry on the other node for seconds.
      }
    },
  },
  {
    name: 'terminating endpoints from an Endpoints manifest with EndpointSlice conditions ("serving, terminating, not ready")',
    async run(ctx) {
      const svc = await createService(ctx.cluster, { name: 'term-ep', selector: {} });
      const address = (pod: string, c: { ready: boolean; serving: boolean; terminating: boolean }) => ({
        ip: ctx.podIp(pod),
        nodeName: ctx.cluster.pod(pod).node,
        conditions: c,
      });
      const apply = async (a: ReturnType<typeof address>, b: ReturnType<typeof address>) => {
        const manifest = {
          apiVersion: 'v1',
          kind: 'Endpoints',
          metadata: { name: 'term-ep', namespace: 'default' },
          subsets: [
            {
              addresses: [a, b].filter((x) => x.conditions.ready),
              notReadyAddresses: [a, b].filter((x) => !x.conditions.ready),
              ports: [{ port: TARGET_PORT }],
            },
          ],
        };
        const r = await ctx.cluster.ctl(['apply', '-f', '-'], { input: JSON.stringify(manifest), allowFailure: true });
        expect(r.exitCode, r.stderr).toBe(0);
      };
      try {
        await apply(address('web-1', { ready: true, serving: true, terminating: false }), address('web-2', { ready: false, serving: true, terminating: true }));
        await reachExactly(ctx, 'client-2', svc.spec.clusterIP, SERVICE_PORT, ['web-1']);
        await apply(address('web-1', { ready: false, serving: false, terminating: true }), address('web-2', { ready: false, serving: true, terminating: true }));
        await reachExactly(ctx, 'client-2', svc.spec.clusterIP, SERVICE_PORT, ['web-2']);
      } finally {
        await deleteService(ctx.cluster, 'default', 'term-ep');
      }
    },
  },
];
