import { invalidField } from '@svcnet/model';

/** IPVS schedulers svcnet accepts for `--ipvs-scheduler` (kube-proxy's list). */
export const IpvsScheduler = {
  rr: 'rr',
  lc: 'lc',
  wrr: 'wrr',
  sh: 'sh',
  dh: 'dh',
  sed: 'sed',
  nq: 'nq',
  mh: 'mh',
} as const;
export type IpvsScheduler = (typeof IpvsScheduler)[keyof typeof IpvsScheduler];

/** The default scheduler (round-robin), as kube-proxy. */
export const DEFAULT_IPVS_SCHEDULER: IpvsScheduler = 'rr';

/**
 * Validates the `--ipvs-scheduler` flag. Empty means the default.
 * Throws SvcnetError(INVALID_ARGUMENT, field `ipvs-scheduler`) for anything else.
 */
export function validateIpvsScheduler(value: string | undefined): IpvsScheduler {
  if (value === undefined || value === '') return DEFAULT_IPVS_SCHEDULER;
  if (Object.hasOwn(IpvsScheduler, value)) return value as IpvsScheduler;
  throw invalidField('ipvs-scheduler', value, `must be one of ${Object.keys(IpvsScheduler).join(', ')}`);
}
