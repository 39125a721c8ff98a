import { buildEndpoints, buildService } from '@svcnet/proxy-core/testing';
import type { Endpoints, Service } from '@svcnet/model';

/** Service i: ClusterIP 10.96.x.y (port 80) with `perService` endpoints 10.x.y.z:8080 spread over 4 nodes. */
export function workload(count: number, perService: number, offset = 0): { services: Service[]; endpoints: Endpoints[] } {
  const services: Service[] = [];
  const endpoints: Endpoints[] = [];
  for (let k = offset; k < offset + count; k++) {
    const name = `svc-${k}`;
    services.push(buildService({ namespace: 'bench', name, clusterIP: `10.96.${(k >> 8) & 255}.${k & 255}`, ports: [{ name: 'http', port: 80 }] }));
    const addresses: string[] = [];
    for (let e = 0; e < perService; e++) {
      const n = k * perService + e;
      addresses.push(`10.${100 + ((n >> 16) & 63)}.${(n >> 8) & 255}.${n & 255}@node-${n % 4}`);
    }
    endpoints.push(buildEndpoints({ namespace: 'bench', name, addresses, ports: [{ name: 'http', port: 8080 }] }));
  }
  return { services, endpoints };
}
