/**
 * kube-proxy's configuration file (`KubeProxyConfiguration`,
 * kubeproxy.config.k8s.io/v1alpha1) for svcnet-agent: the fields svcnet-agent
 * supports become flags (applied before the command line, so flags override
 * the file, as kube-proxy does); every other field is an error naming it.
 */
import { readFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { formatDuration } from '@svcnet/model';
import type { AgentOptions } from './options.js';

export const KUBE_PROXY_API_VERSION = 'kubeproxy.config.k8s.io/v1alpha1';
export const KUBE_PROXY_KIND = 'KubeProxyConfiguration';

/** A configuration file that cannot be used; names the file and the field. */
export class KubeProxyConfigError extends Error {
  override readonly name = 'KubeProxyConfigError';
}

/** KubeProxyConfiguration fields svcnet-agent knows but does not act on: refused by name rather than ignored. */
const UNSUPPORTED = new Set([
  'bindAddress',
  'bindAddressHardFail',
  'clientConnection',
  'configSyncPeriod',
  'conntrack',
  'detectLocal',
  'detectLocalMode',
  'enableProfiling',
  'featureGates',
  'logging',
  'oomScoreAdj',
  'portRange',
  'showHiddenMetricsForVersion',
  'udpIdleTimeout',
  'winkernel',
  'syncPeriod',
  'minSyncPeriod',
]);

type Section = Record<string, unknown>;

function str(path: string, file: string, v: unknown): string {
  if (typeof v !== 'string') throw new KubeProxyConfigError(`--config ${file}: ${path} must be a string`);
  return v;
}

function bool(path: string, file: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw new KubeProxyConfigError(`--config ${file}: ${path} must be true or false`);
  return v;
}

/** The flags a mode section sets; `fields` lists what the section may hold. */
function section(params: { name: string; value: unknown; file: string; fields: Record<string, (path: string, v: unknown) => string[]> }): string[] {
  if (params.value === undefined || params.value === null) return [];
  if (typeof params.value !== 'object' || Array.isArray(params.value)) {
    throw new KubeProxyConfigError(`--config ${params.file}: ${params.name} must be a mapping`);
  }
  const out: string[] = [];
  for (const [k, v] of Object.entries(params.value as Section)) {
    const path = `${params.name}.${k}`;
    const f = params.fields[k];
    if (!f) {
      throw new KubeProxyConfigError(
        `--config ${params.file}: ${path} is not supported by svcnet-agent (supported in ${params.name}: ${Object.keys(params.fields).join(', ') || 'nothing'})`,
      );
    }
    if (v !== null && v !== undefined) out.push(...f(path, v));
  }
  return out;
}

/** The file as svcnet-agent flags (to parse before the command line's own). */
export function kubeProxyConfigArgv(file: string, text?: string): string[] {
  let content = text;
  if (content === undefined) {
    try {
      content = readFileSync(file, 'utf8');
    } catch (err) {
      throw new KubeProxyConfigError(`--config ${file}: cannot be read: ${(err as Error).message}`);
    }
  }
  let doc: unknown;
  try {
    doc = parse(content);
  } catch (err) {
    throw new KubeProxyConfigError(`--config ${file}: not YAML: ${(err as Error).message}`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new KubeProxyConfigError(`--config ${file}: expected a KubeProxyConfiguration mapping`);
  const cfg = doc as Section;
  if (cfg['apiVersion'] !== KUBE_PROXY_API_VERSION || cfg['kind'] !== KUBE_PROXY_KIND) {
    throw new KubeProxyConfigError(
      `--config ${file}: apiVersion/kind must be ${KUBE_PROXY_API_VERSION}/${KUBE_PROXY_KIND} (found ${String(cfg['apiVersion'])}/${String(cfg['kind'])})`,
    );
  }
  const mode = cfg['mode'] === undefined || cfg['mode'] === '' ? 'iptables' : str('mode', file, cfg['mode']);
  const syncs = (path: string, v: unknown, flag: string): string[] => [`--${flag}=${str(path, file, v)}`];
  const periods = {
    syncPeriod: (p: string, v: unknown) => syncs(p, v, 'sync-period'),
    minSyncPeriod: (p: string, v: unknown) => syncs(p, v, 'min-sync-period'),
  };
  // Only the section of the mode in use sets the sync periods, as in kube-proxy.
  const onlyIf = (m: string, fields: Record<string, (p: string, v: unknown) => string[]>) =>
    mode === m ? fields : Object.fromEntries(Object.keys(fields).map((k) => [k, () => [] as string[]]));
  const argv: string[] = [];
  for (const [key, value] of Object.entries(cfg)) {
    if (key === 'apiVersion' || key === 'kind' || value === null || value === undefined) continue;
    switch (key) {
      case 'mode':
        argv.push(`--proxy-mode=${mode}`);
        break;
      case 'clusterCIDR':
        argv.push(`--cluster-cidr=${str(key, file, value)}`);
        break;
      case 'hostnameOverride':
        argv.push(`--node-name=${str(key, file, value)}`);
        break;
      case 'healthzBindAddress':
        argv.push(`--healthz-bind-address=${str(key, file, value)}`);
        break;
      case 'metricsBindAddress':
        argv.push(`--metrics-bind-address=${str(key, file, value)}`);
        break;
      case 'nodePortAddresses':
        if (!Array.isArray(value) || !value.every((x) => typeof x === 'string')) throw new KubeProxyConfigError(`--config ${file}: nodePortAddresses must be a list of CIDRs`);
        argv.push(`--nodeport-addresses=${value.join(',')}`);
        break;
      case 'iptables':
        argv.push(
          ...section({
            name: key,
            value,
            file,
            fields: {
              masqueradeAll: (p, v) => (bool(p, file, v) ? ['--masquerade-all'] : []),
              localhostNodePorts: (p, v) => [`--iptables-localhost-nodeports=${String(bool(p, file, v))}`],
              ...onlyIf('iptables', periods),
            },
          }),
        );
        break;
      case 'ipvs':
        argv.push(
          ...section({
            name: key,
            value,
            file,
            fields: {
              scheduler: (p, v) => [`--ipvs-scheduler=${str(p, file, v)}`],
              strictARP: (p, v) => (bool(p, file, v) ? ['--ipvs-strict-arp'] : []),
              ...onlyIf('ipvs', periods),
            },
          }),
        );
        break;
      case 'nftables':
        argv.push(
          ...section({
            name: key,
            value,
            file,
            fields: { masqueradeAll: (p, v) => (bool(p, file, v) ? ['--masquerade-all'] : []), ...onlyIf('nftables', periods) },
          }),
        );
        break;
      default:
        if (UNSUPPORTED.has(key)) {
          throw new KubeProxyConfigError(`--config ${file}: ${key} is a KubeProxyConfiguration field svcnet-agent does not support; remove it`);
        }
        throw new KubeProxyConfigError(`--config ${file}: unknown field "${key}" in ${KUBE_PROXY_KIND}`);
    }
  }
  return argv;
}

/** The effective options as a KubeProxyConfiguration (`--write-config-to`). */
export function kubeProxyConfigText(o: AgentOptions): string {
  const addr = (a: { host: string; port: number } | undefined): string => (a ? `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}` : '');
  const periods = { syncPeriod: formatDuration(o.syncPeriodMs), minSyncPeriod: formatDuration(o.minSyncPeriodMs) };
  return stringify({
    apiVersion: KUBE_PROXY_API_VERSION,
    kind: KUBE_PROXY_KIND,
    mode: o.proxyMode,
    hostnameOverride: o.nodeName,
    clusterCIDR: o.clusterCIDR,
    healthzBindAddress: addr(o.healthzBindAddress),
    metricsBindAddress: addr(o.metricsBindAddress),
    nodePortAddresses: o.nodePortAddresses,
    iptables: { masqueradeAll: o.masqueradeAll, localhostNodePorts: o.localhostNodePorts, ...(o.proxyMode === 'iptables' ? periods : {}) },
    ipvs: { scheduler: o.ipvsScheduler, strictARP: o.ipvsStrictArp, ...(o.proxyMode === 'ipvs' ? periods : {}) },
    nftables: { ...(o.proxyMode === 'nftables' ? periods : {}) },
  });
}
