import { describe, expect, it } from 'vitest';
import { AllocatorService } from './gen/svcnet/v1/allocator.pb.js';
import { StateService } from './gen/svcnet/v1/state.pb.js';
import { ALLOCATOR_METHOD_ACCESS, STATE_METHOD_ACCESS } from './authorization.js';

/** The method names of a generated service definition (`/svcnet.v1.Allocator/GetStatus` → `GetStatus`). */
function methodsOf(service: Record<string, { path: string }>): string[] {
  return Object.values(service).map((m) => m.path.slice(m.path.lastIndexOf('/') + 1)).sort();
}

describe('method-access tables', () => {
  // A method missing from a table is refused to everyone but editors' writes: a new RPC must be listed.
  const cases = [
    { name: 'svcnet.v1.Allocator', service: AllocatorService, access: ALLOCATOR_METHOD_ACCESS },
    { name: 'svcnet.v1.State', service: StateService, access: STATE_METHOD_ACCESS },
  ];
  for (const c of cases) {
    it(`${c.name}: every RPC has an entry, and no entry names an RPC that does not exist`, () => {
      expect(Object.keys(c.access).sort()).toEqual(methodsOf(c.service));
    });
  }

  it('load-balancer IPs are allocated and released by editors only', () => {
    expect([ALLOCATOR_METHOD_ACCESS['AllocateLoadBalancerIP'], ALLOCATOR_METHOD_ACCESS['ReleaseLoadBalancerIP']]).toEqual(['write', 'write']);
  });
});
