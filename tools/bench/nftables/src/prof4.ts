import { FakeProxyBackend, Proxier } from '@svcnet/proxy-core';
import { renderNftPlan } from '@svcnet/backend-nftables';
import { CONFIG, modelObjects } from './workload.js';
const count = Number(process.argv[2] ?? 50000);
async function main() {
  const gc = (globalThis as { gc?: () => void }).gc!;
  const proxier = new Proxier({ backend: new FakeProxyBackend(), config: CONFIG, minSyncPeriodMs: 100, syncPeriodMs: 3_600_000 });
  for (let k = 0; k < count; k += 1000) {
    const { services, endpoints } = modelObjects(k, Math.min(1000, count - k), 5);
    for (const s of services) proxier.onServiceUpsert(s);
    for (const e of endpoints) proxier.onEndpointsUpsert(e);
  }
  proxier.onSynced();
  await proxier.syncNow();
  gc(); gc();
  const base = process.memoryUsage().heapUsed;
  console.log(`proxier with a fake backend: heap ${(base / 2 ** 20).toFixed(0)} MiB`);
  let t = performance.now();
  const plan = renderNftPlan(proxier.state(), CONFIG, true);
  console.log(`render ${(performance.now() - t).toFixed(0)} ms`);
  gc(); gc();
  console.log(`+ plan: heap +${((process.memoryUsage().heapUsed - base) / 2 ** 20).toFixed(0)} MiB (fragments ${plan.fragments.size}, owners ${plan.owners.size})`);
  t = performance.now();
  const d = plan.digests;
  console.log(`digests ${(performance.now() - t).toFixed(0)} ms ${d['service-ips'].count}`);
  await proxier.stop();
}
void main();
