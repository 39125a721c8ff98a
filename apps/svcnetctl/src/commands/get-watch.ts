/**
 * `svcnetctl get <type> [name] -w`: the current objects as a table, then one
 * row per change as it arrives, columns kept aligned (kubectl's RememberWidths).
 */
import { ExitCode, UsageError } from '../cli-errors.js';
import { endpointsRows, podsRows, servicesRows, type TableOptions } from '../format/tables.js';
import { StreamingTable } from '../format/tabwriter.js';
import { formatObjects, type OutputFormat } from '../output.js';
import type { AnyObject, Kind, KindObjects } from '../resources.js';
import type { CommandContext } from './context.js';
import { parseLabelPairs } from './expose.js';

export interface WatchParams {
  kind: Kind;
  names: string[];
  format: OutputFormat;
  allNamespaces: boolean;
  showLabels: boolean;
  selector: string;
}

function rows(kind: Kind, objects: AnyObject[], options: TableOptions): string[][] {
  if (kind === 'Service') return servicesRows(objects as KindObjects['Service'][], options);
  if (kind === 'Pod') return podsRows(objects as KindObjects['Pod'][], options);
  return endpointsRows(objects as KindObjects['Endpoints'][], options);
}

export async function runGetWatch(ctx: CommandContext, p: WatchParams): Promise<ExitCode> {
  if (p.names.length > 1) throw new UsageError('watch is only supported on individual resources and resource collections, but 2 resources were found');
  const wanted = parseLabelPairs(p.selector, '--selector');
  const keep = (o: AnyObject): boolean =>
    (p.names.length === 0 || o.metadata.name === p.names[0]) &&
    Object.entries(wanted).every(([k, v]) => o.metadata.labels[k] === v);
  const table = new StreamingTable();
  const options = (): TableOptions => ({
    allNamespaces: p.allNamespaces,
    wide: p.format === 'wide',
    showLabels: p.showLabels,
    now: ctx.io.now(),
  });
  const print = (objects: AnyObject[], withHeader: boolean): void => {
    if (objects.length === 0) return;
    if (p.format === 'json' || p.format === 'yaml' || p.format === 'name') {
      for (const object of objects) {
        const text = formatObjects([{ kind: p.kind, object }], p.format, false);
        ctx.io.stdout(p.format === 'yaml' ? `---\n${text}` : text);
      }
      return;
    }
    const r = rows(p.kind, objects, options());
    ctx.io.stdout(table.render(withHeader ? r : r.slice(1)));
  };

  // Deleted objects may arrive without a body: print the last version seen, as kubectl does.
  const last = new Map<string, AnyObject>();
  const initial: AnyObject[] = [];
  let synced = false;
  const handle = ctx.api.watch(p.kind, p.allNamespaces ? '' : ctx.namespace, (u) => {
    if (u.type === 'SYNCED') {
      synced = true;
      initial.sort((a, b) => (`${a.metadata.namespace}/${a.metadata.name}` < `${b.metadata.namespace}/${b.metadata.name}` ? -1 : 1));
      print(initial, true);
      return;
    }
    const key = `${u.namespace}/${u.name}`;
    const object = u.object ?? last.get(key);
    if (u.type === 'DELETED') last.delete(key);
    else if (u.object) last.set(key, u.object);
    if (!object || !keep(object)) return;
    if (!synced) initial.push(object);
    else print([object], false);
  });
  await handle.done;
  return ExitCode.Ok;
}
