import { ChurnModel, seededRandom } from '@svcnet/proxy-core/testing';
import { describe, expect, it } from 'vitest';
import { IpvsBackend } from './ipvs-backend.js';
import type { IpvsPlan } from './plan.js';
import { SimKernel } from './testing/sim-kernel.js';
import { config, ep, stateOf, svc } from './test-fixtures.js';

/** A clock that never moves: removed TCP real servers keep draining at weight 0. */
const clock = { now: () => 0 };
/** The simulated kernel with draining (weight 0) real servers left out: they go later, by design. */
const live = (k: SimKernel) => k.dump().filter((l) => !/ -w 0$/.test(l));

describe('IPVS partial syncs in O(change)', () => {
  it.each([1, 2, 3, 20261127])('under churn (seed %i), each partial sync leaves what a full sync of the same state leaves', async (seed) => {
    const model = new ChurnModel(seededRandom(seed), { nodeName: config.nodeName, maxServices: 30 });
    const kernel = new SimKernel();
    const b = new IpvsBackend({ exec: kernel, clock, config });
    let last: IpvsPlan | undefined;
    let deltas = 0;
    for (let step = 0; step < 150; step++) {
      const changed = model.step();
      const state = model.state();
      const plan = b.render({ state, config, full: !last, changed, lastApplied: last });
      const before = kernel.calls.length;
      await b.apply(plan);
      // A partial sync never reads the kernel back.
      if (last) expect(kernel.calls.slice(before).filter((c) => /-Sn|save|show/.test(c.args.join(' '))), `step ${step}`).toEqual([]);
      if (plan.delta) deltas++;
      last = plan;
      const fresh = new SimKernel();
      const f = new IpvsBackend({ exec: fresh, clock, config });
      await f.apply(f.render({ state, config, full: true, changed: new Set(), lastApplied: undefined }));
      expect(live(kernel), `seed ${seed}, step ${step}, changed ${[...changed].join(' ')}`).toEqual(live(fresh));
      expect(await b.detectDrift(plan), `step ${step}`).toBe(false);
    }
    expect(deltas).toBe(149);
  });

  it('renders only the changed service ports: the others keep their objects', () => {
    const b = new IpvsBackend({ exec: new SimKernel(), config });
    const a = svc({ name: 'a', clusterIP: '10.96.0.1', port: 80 });
    const c = svc({ name: 'c', clusterIP: '10.96.0.3', port: 80 });
    const s1 = stateOf([[a, [ep('10.244.0.2', 80)]], [c, [ep('10.244.0.3', 80)]]]);
    const p1 = b.render({ state: s1, config, full: true, changed: new Set(), lastApplied: undefined });
    const s2 = stateOf([[a, [ep('10.244.0.2', 80)]], [c, [ep('10.244.0.9', 80)]]]);
    const p2 = b.render({ state: { services: s1.services, endpoints: new Map(s1.endpoints).set(c.id, s2.endpoints.get(c.id)!) }, config, full: false, changed: new Set([c.id]), lastApplied: p1 });
    expect(p2.delta?.pairs).toHaveLength(1);
    expect(p2.fragments!.get(a.id)).toBe(p1.fragments!.get(a.id));
    expect(p2.virtualServers.find((v) => v.address === '10.96.0.3')!.reals.map((r) => r.address)).toEqual(['10.244.0.9']);
  });

  it('a new service is one step: ipset, ip and ipvsadm run at once (each waits here until all three started)', async () => {
    const kernel = new SimKernel();
    let open: () => void = () => undefined;
    const bar = { armed: false, started: 0, all: new Promise<void>((r) => (open = r)) };
    const exec = {
      run: async (req: Parameters<SimKernel['run']>[0]) => {
        if (bar.armed && ['ipset', 'ip', 'ipvsadm'].includes(req.file)) {
          if (++bar.started === 3) open();
          const late = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${req.file} waited alone: the calls are not one step`)), 1000));
          await Promise.race([bar.all, late]);
        }
        return kernel.run(req);
      },
    };
    const b = new IpvsBackend({ exec, config });
    const p1 = b.render({ state: stateOf([]), config, full: true, changed: new Set(), lastApplied: undefined });
    await b.apply(p1);
    bar.armed = true;
    const web = svc({ name: 'web', clusterIP: '10.96.0.1', port: 80 });
    const p2 = b.render({ state: stateOf([[web, [ep('10.244.0.2', 80)]]]), config, full: false, changed: new Set([web.id]), lastApplied: p1 });
    await b.apply(p2);
    expect(bar.started).toBe(3);
    expect(kernel.addresses).toEqual(new Set(['10.96.0.1']));
  });

  it('an address shared by two ports of one service stays while one of them is left', async () => {
    const kernel = new SimKernel();
    const b = new IpvsBackend({ exec: kernel, config });
    const http = svc({ name: 'web', portName: 'http', clusterIP: '10.96.0.1', port: 80 });
    const https = svc({ name: 'web', portName: 'https', clusterIP: '10.96.0.1', port: 443 });
    const p1 = b.render({ state: stateOf([[http, [ep('10.244.0.2', 80)]], [https, [ep('10.244.0.2', 443)]]]), config, full: true, changed: new Set(), lastApplied: undefined });
    await b.apply(p1);
    const p2 = b.render({ state: stateOf([[https, [ep('10.244.0.2', 443)]]]), config, full: false, changed: new Set([http.id]), lastApplied: p1 });
    await b.apply(p2);
    expect(kernel.addresses).toEqual(new Set(['10.96.0.1']));
    const p3 = b.render({ state: stateOf([]), config, full: false, changed: new Set([https.id]), lastApplied: p2 });
    await b.apply(p3);
    expect(kernel.addresses).toEqual(new Set());
  });
});
