import { describe, expect, it } from 'vitest';
import { ALLOCATOR_METHOD_ACCESS, STATE_METHOD_ACCESS } from './authorization.js';
import * as allocatorv1 from './gen/svcnet/v1/allocator.pb.js';
import * as statev1 from './gen/svcnet/v1/state.pb.js';

/** The method names of a generated grpc-js service definition (from each path, `/pkg.Service/Method`). */
const methods = (definition: Record<string, { path: string }>): string[] => Object.values(definition).map((m) => m.path.slice(m.path.lastIndexOf('/') + 1));

// A method missing from a table is refused to viewers (treated as a write): every method must be listed on purpose.
describe('method-access tables', () => {
  const cases = [
    { name: 'svcnet.v1.State', table: STATE_METHOD_ACCESS, definition: statev1.StateService },
    { name: 'svcnet.v1.Allocator', table: ALLOCATOR_METHOD_ACCESS, definition: allocatorv1.AllocatorService },
  ];
  for (const c of cases) {
    it(`lists every method of ${c.name}, and only those`, () => {
      expect(Object.keys(c.table).sort()).toEqual(methods(c.definition).sort());
    });
  }

  it('lets viewers read the node status and wait for programming', () => {
    expect([STATE_METHOD_ACCESS['ListNodes'], STATE_METHOD_ACCESS['GetNode'], STATE_METHOD_ACCESS['WaitProgrammed']]).toEqual(['read', 'read', 'read']);
  });

  it('load-balancer IPs are allocated and released by editors only', () => {
    expect([ALLOCATOR_METHOD_ACCESS['AllocateLoadBalancerIP'], ALLOCATOR_METHOD_ACCESS['ReleaseLoadBalancerIP']]).toEqual(['write', 'write']);
  });
});
