import { buildEndpoint, buildServicePort } from './builders.js';
import type { EndpointInfo, ProxyState, ServicePortInfo } from './types.js';

/** A seeded PRNG (mulberry32) in [0, 1): the same seed gives the same churn. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export interface ChurnOptions {
  /** This node's name: endpoints on it are local. Default `n1` (the others land on `n2`). */
  nodeName?: string;
  /** Never more service ports than this (default 24). */
  maxServices?: number;
}

/**
 * Reproducible random churn of services and endpoints, as a proxier sees it:
 * every `step()` changes one to four service ports — a service added or
 * deleted, endpoints added, removed, replaced, made not ready or all gone,
 * ClientIP affinity switched or its timeout changed, a node port added or
 * dropped, externalTrafficPolicy flipped — and returns their ids (the
 * change tracker's `changed` set). Tests compare what a backend's partial
 * syncs leave in the kernel with a full sync of `state()`.
 */
export class ChurnModel {
  private readonly services = new Map<string, ServicePortInfo>();
  private readonly endpoints = new Map<string, EndpointInfo[]>();
  private readonly nodeName: string;
  private readonly maxServices: number;
  private serviceSerial = 0;
  private endpointSerial = 0;
  /** Node ports are never reused, as an allocator would not hand one out twice. */
  private nextNodePort = 30000;

  constructor(
    private readonly random: () => number,
    options: ChurnOptions = {},
  ) {
    this.nodeName = options.nodeName ?? 'n1';
    this.maxServices = options.maxServices ?? 24;
  }

  /** A snapshot (later steps do not change it). */
  state(): ProxyState {
    return { services: new Map(this.services), endpoints: new Map([...this.endpoints].map(([id, eps]) => [id, [...eps]])) };
  }

  step(): Set<string> {
    const changed = new Set<string>();
    const count = 1 + this.int(4);
    for (let i = 0; i < count; i++) {
      const id = this.mutate();
      if (id) changed.add(id);
    }
    return changed;
  }

  private int(n: number): number {
    return Math.floor(this.random() * n);
  }

  private pick<T>(items: readonly T[]): T | undefined {
    return items.length > 0 ? items[this.int(items.length)] : undefined;
  }

  private newEndpoint(port: number): EndpointInfo {
    const k = ++this.endpointSerial;
    const nodeName = this.random() < 0.5 ? this.nodeName : 'n2';
    const ready = this.random() < 0.9;
    return buildEndpoint(`10.244.${1 + (k >> 8)}.${k & 255 || 254}`, port, { nodeName, isLocal: nodeName === this.nodeName, ready, serving: ready });
  }

  private addService(): string {
    const k = ++this.serviceSerial;
    const udp = this.random() < 0.25;
    const nodePort = this.random() < 0.35 ? this.nextNodePort++ : 0;
    const svc = buildServicePort({
      namespace: 'churn',
      name: `svc-${k}`,
      portName: udp ? 'dns' : 'http',
      protocol: udp ? 'UDP' : 'TCP',
      clusterIP: `10.96.${k >> 8}.${k & 255 || 254}`,
      port: udp ? 53 : 80,
      nodePort,
      ...(this.random() < 0.2 ? { externalIPs: [`192.0.2.${k & 255 || 254}`] } : {}),
      sessionAffinity: this.random() < 0.25 ? { kind: 'ClientIP', timeoutSeconds: this.pick([60, 600, 10800])! } : { kind: 'None' },
      externalPolicyLocal: nodePort > 0 && this.random() < 0.3,
    });
    this.services.set(svc.id, svc);
    const eps = Array.from({ length: this.int(4) }, () => this.newEndpoint(udp ? 5353 : 8080));
    if (eps.length > 0) this.endpoints.set(svc.id, eps);
    return svc.id;
  }

  private mutate(): string | undefined {
    const ids = [...this.services.keys()];
    const roll = this.random();
    if (ids.length < 3 || (roll < 0.2 && ids.length < this.maxServices)) return this.addService();
    const id = this.pick(ids)!;
    const svc = this.services.get(id)!;
    const eps = this.endpoints.get(id) ?? [];
    const port = svc.protocol === 'UDP' ? 5353 : 8080;
    const setEndpoints = (next: EndpointInfo[]) => (next.length > 0 ? this.endpoints.set(id, next) : this.endpoints.delete(id));
    if (roll < 0.3) {
      this.services.delete(id);
      this.endpoints.delete(id);
    } else if (roll < 0.45) {
      setEndpoints([...eps, this.newEndpoint(port)]);
    } else if (roll < 0.55) {
      setEndpoints(eps.filter((_, i) => i !== this.int(Math.max(1, eps.length))));
    } else if (roll < 0.65) {
      setEndpoints(eps.map((e, i) => (i === 0 ? this.newEndpoint(port) : e)));
    } else if (roll < 0.72) {
      setEndpoints(eps.map((e) => (this.random() < 0.5 ? { ...e, ready: !e.ready, serving: !e.ready } : e)));
    } else if (roll < 0.77) {
      setEndpoints([]);
    } else if (roll < 0.86) {
      const affinity = svc.sessionAffinity.kind === 'ClientIP' && this.random() < 0.5
        ? { kind: 'None' as const }
        : { kind: 'ClientIP' as const, timeoutSeconds: this.pick([30, 60, 600])! };
      this.services.set(id, { ...svc, sessionAffinity: affinity });
    } else if (roll < 0.93) {
      const nodePort = svc.nodePort > 0 ? 0 : this.nextNodePort++;
      this.services.set(id, { ...svc, nodePort, externalPolicyLocal: nodePort > 0 && svc.externalPolicyLocal });
    } else {
      this.services.set(id, { ...svc, externalPolicyLocal: svc.nodePort > 0 && !svc.externalPolicyLocal });
    }
    return id;
  }
}
