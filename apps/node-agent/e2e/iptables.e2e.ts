/**
 * The data-plane table in iptables mode on a 2-node cluster, once per
 * iptables variant (legacy and nft), with real traffic. Needs root (network
 * namespaces); every namespace is named nagleg-… / nagnft-… and removed after.
 */
import { runDataplaneSuite } from './dataplane-cases.js';
import { iptablesInspector } from './mode-inspectors.js';

const notRoot = process.getuid?.() === 0 ? undefined : 'needs root to create network namespaces';

for (const variant of ['legacy', 'nft'] as const) {
  runDataplaneSuite({
    mode: 'iptables',
    iptables: variant,
    clusterName: `nag${variant === 'legacy' ? 'leg' : 'nft'}`,
    inspector: iptablesInspector(variant),
    ...(notRoot ? { skipAll: notRoot } : {}),
  });
}
