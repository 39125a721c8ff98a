import { renderNftPlan, replaceScript } from '@svcnet/backend-nftables';
import { CONFIG, proxyState } from './workload.js';
const state = proxyState(Number(process.argv[2] ?? 10000), 5);
for (let i = 0; i < 5; i++) {
  let t = performance.now();
  const p = renderNftPlan(state, CONFIG, true);
  const r = performance.now() - t;
  t = performance.now();
  const text = replaceScript(p);
  console.log(`render ${r.toFixed(0)} ms, text ${(performance.now() - t).toFixed(0)} ms, ${text.length}`);
}
