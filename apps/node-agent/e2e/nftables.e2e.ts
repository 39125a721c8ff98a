/**
 * The data-plane table in nftables mode on a 2-node cluster, with real
 * traffic. Needs root (network namespaces); namespaces are named nagnfs-… and
 * removed after.
 */
import { runDataplaneSuite } from './dataplane-cases.js';
import { e2eName } from '@svcnet/testing';
import { nftablesInspector } from './mode-inspectors.js';

const notRoot = process.getuid?.() === 0 ? undefined : 'needs root to create network namespaces';

runDataplaneSuite({
  mode: 'nftables',
  clusterName: e2eName('nagnfs'),
  inspector: nftablesInspector(),
  ...(notRoot ? { skipAll: notRoot } : {}),
});
