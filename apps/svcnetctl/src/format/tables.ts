/**
 * `get` tables with kubectl's columns. Pure: objects + options in, text out.
 */
import type { Endpoints, ObjectMeta, Pod, Service } from '@svcnet/model';
import { formatAge } from './age.js';
import { formatClusterIp, formatEndpoints, formatExternalIps, formatLabels, formatServicePorts } from './fields.js';
import { renderTable } from './tabwriter.js';

export interface TableOptions {
  /** `-A`: a NAMESPACE column first. */
  allNamespaces: boolean;
  /** `-o wide`: the extra columns (SELECTOR for services, LABELS for pods). */
  wide: boolean;
  /** `--show-labels`: a LABELS column last. */
  showLabels: boolean;
  now: Date;
  /** Printed before each NAME, e.g. `service/` when several kinds are listed (as kubectl does). */
  namePrefix?: string;
}

interface Column<T> {
  header: string;
  cell: (obj: T, now: Date) => string;
}

const serviceColumns: Column<Service>[] = [
  { header: 'NAME', cell: (s) => s.metadata.name },
  { header: 'TYPE', cell: (s) => s.spec.type },
  { header: 'CLUSTER-IP', cell: formatClusterIp },
  { header: 'EXTERNAL-IP', cell: (s) => formatExternalIps(s) },
  { header: 'PORT(S)', cell: formatServicePorts },
  { header: 'AGE', cell: (s, now) => formatAge(s.metadata.creationTimestamp, now) },
];
const serviceWide: Column<Service>[] = [{ header: 'SELECTOR', cell: (s) => formatLabels(s.spec.selector) }];

/** Pod phase as kubectl's STATUS shows it: registered pods run until they terminate. */
function podStatus(p: Pod): string {
  return p.terminating ? 'Terminating' : 'Running';
}

const podColumns: Column<Pod>[] = [
  { header: 'NAME', cell: (p) => p.metadata.name },
  { header: 'READY', cell: (p) => (p.ready ? '1/1' : '0/1') },
  { header: 'STATUS', cell: podStatus },
  { header: 'IP', cell: (p) => p.ip || '<none>' },
  { header: 'NODE', cell: (p) => p.nodeName || '<none>' },
  { header: 'AGE', cell: (p, now) => formatAge(p.metadata.creationTimestamp, now) },
];
const podWide: Column<Pod>[] = [{ header: 'LABELS', cell: (p) => formatLabels(p.metadata.labels) }];

const endpointsColumns: Column<Endpoints>[] = [
  { header: 'NAME', cell: (e) => e.metadata.name },
  { header: 'ENDPOINTS', cell: (e) => formatEndpoints(e) },
  { header: 'AGE', cell: (e, now) => formatAge(e.metadata.creationTimestamp, now) },
];

/** Header and one row per object, cells unaligned. */
function tableRows<T extends { metadata: ObjectMeta }>(
  objects: readonly T[],
  base: Column<T>[],
  wide: Column<T>[],
  options: TableOptions,
): string[][] {
  const prefix = options.namePrefix ?? '';
  const columns: Column<T>[] = [...base, ...(options.wide ? wide : [])].map((c) =>
    c.header === 'NAME' && prefix ? { header: c.header, cell: (o: T, now: Date) => prefix + c.cell(o, now) } : c,
  );
  if (options.allNamespaces) columns.unshift({ header: 'NAMESPACE', cell: (o) => o.metadata.namespace });
  if (options.showLabels && !columns.some((c) => c.header === 'LABELS')) {
    columns.push({ header: 'LABELS', cell: (o) => formatLabels(o.metadata.labels) });
  }
  return [columns.map((c) => c.header), ...objects.map((o) => columns.map((c) => c.cell(o, options.now)))];
}

/** The cells of `get services` (header first), for streaming output such as `get -w`. */
export function servicesRows(services: readonly Service[], options: TableOptions): string[][] {
  return tableRows(services, serviceColumns, serviceWide, options);
}

export function podsRows(pods: readonly Pod[], options: TableOptions): string[][] {
  return tableRows(pods, podColumns, podWide, options);
}

export function endpointsRows(endpoints: readonly Endpoints[], options: TableOptions): string[][] {
  return tableRows(endpoints, endpointsColumns, [], options);
}

/** `get services`: NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE [SELECTOR]. */
export function servicesTable(services: readonly Service[], options: TableOptions): string {
  return renderTable(servicesRows(services, options));
}

/** `get pods`: NAME READY STATUS IP NODE AGE [LABELS]. */
export function podsTable(pods: readonly Pod[], options: TableOptions): string {
  return renderTable(podsRows(pods, options));
}

/** `get endpoints`: NAME ENDPOINTS AGE. */
export function endpointsTable(endpoints: readonly Endpoints[], options: TableOptions): string {
  return renderTable(endpointsRows(endpoints, options));
}
