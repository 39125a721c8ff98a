/**
 * The data-plane table in iptables mode on a 2-node cluster, once per
 * iptables variant (legacy and nft), with real traffic. Needs root (network
 * namespaces); every namespace is named nagleg-… / nagnft-… and removed after.
 */
import { runDataplaneSuite } from './dataplane-cases.js';
import { e2eName } from '@svcnet/testing';
import { iptablesInspector } from './mode-inspectors.js';

const notRoot = process.getuid?.() === 0 ? undefined : 'needs root to create network namespaces';

// SVCNET_E2E_IPTABLES=legacy (or nft) runs one variant only, for quicker iterations.
const only = process.env.SVCNET_E2E_IPTABLES;
for (const variant of (['legacy', 'nft'] as const).filter((v) => !only || v === only)) {
  runDataplaneSuite({
    mode: 'iptables',
    iptables: variant,
    clusterName: e2eName(`nag${variant === 'legacy' ? 'leg' : 'nft'}`),
    inspector: iptablesInspector(variant),
    ...(notRoot ? { skipAll: notRoot } : {}),
  });
}
