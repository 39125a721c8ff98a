import type { ObjectMeta } from '@svcnet/model';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/**
 * Why an object from the feed cannot become DNS names, or undefined: its
 * namespace and name must be DNS labels (the state service validates them;
 * a record written around it must not make odd names appear in the zone).
 */
export function nameProblem(meta: ObjectMeta): string | undefined {
  if (!DNS_LABEL.test(meta.namespace)) return `namespace ${JSON.stringify(meta.namespace)} is not a DNS label`;
  if (!DNS_LABEL.test(meta.name)) return `name ${JSON.stringify(meta.name)} is not a DNS label`;
  return undefined;
}
