import * as iptablesLib from '@svcnet/backend-iptables';
import * as ipvsLib from '@svcnet/backend-ipvs';
import * as nftablesLib from '@svcnet/backend-nftables';
import * as userspaceLib from '@svcnet/backend-userspace';
import type { NetExec } from '@svcnet/netexec';
import { ProxyMode, type NodeConfig, type ProxyBackend } from '@svcnet/proxy-core';
import { ErrorCode, SvcnetError } from '@svcnet/model';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { AgentOptions } from './flags.js';

/** What every backend constructor may need; each takes the fields it knows. */
export interface BackendParams {
  exec: NetExec;
  options: AgentOptions;
  config: NodeConfig;
  logger: Logger;
  /** The agent's Prometheus registry; only the active backend registers metrics on it. */
  registry?: Registry;
}

type BackendCtor = new (params: Record<string, unknown>) => ProxyBackend;

/** Where each mode's backend lives: the library and its exported class name. */
const BACKEND_EXPORTS: Record<ProxyMode, { lib: object | undefined; exportName: string; libName: string }> = {
  iptables: { lib: iptablesLib, exportName: 'IptablesBackend', libName: '@svcnet/backend-iptables' },
  ipvs: { lib: ipvsLib, exportName: 'IpvsBackend', libName: '@svcnet/backend-ipvs' },
  userspace: { lib: userspaceLib, exportName: 'UserspaceBackend', libName: '@svcnet/backend-userspace' },
  nftables: { lib: nftablesLib, exportName: 'NftablesBackend', libName: '@svcnet/backend-nftables' },
};

/**
 * Looks a backend class up by name. The backends are built in parallel with
 * the agent, so a mode whose library does not export its class yet is
 * reported as unavailable instead of failing the build.
 */
function backendClass(mode: ProxyMode): BackendCtor | undefined {
  const entry = BACKEND_EXPORTS[mode];
  const ctor = entry.lib ? (entry.lib as Record<string, unknown>)[entry.exportName] : undefined;
  return typeof ctor === 'function' ? (ctor as BackendCtor) : undefined;
}

/** The modes whose backend library exports a backend in this build. */
export function availableModes(): ProxyMode[] {
  return Object.values(ProxyMode).filter((m) => backendClass(m) !== undefined);
}

/** Builds the backend for one mode; SvcnetError(FAILED_PRECONDITION) when it is not available. */
export async function createBackend(mode: ProxyMode, params: BackendParams): Promise<ProxyBackend> {
  const Ctor = backendClass(mode);
  if (!Ctor) {
    const { libName, exportName } = BACKEND_EXPORTS[mode];
    throw new SvcnetError(
      ErrorCode.FailedPrecondition,
      `proxy mode "${mode}" is not available in this build: ${libName} does not export ${exportName} yet`,
      { field: 'proxy-mode' },
    );
  }
  const { exec, options, config, logger } = params;
  // The iptables backend detects 'auto' itself, the way kube-proxy does.
  const variant = mode === 'iptables' ? options.iptablesBackend : undefined;
  return new Ctor({
    exec,
    variant,
    config,
    nodeConfig: config,
    scheduler: options.ipvsScheduler,
    strictArp: options.ipvsStrictArp,
    proxyPortRange: options.proxyPortRange || undefined,
    logger: logger.child({ backend: mode }),
    ...(params.registry ? { metricsRegistry: params.registry, registry: params.registry } : {}),
  });
}

/**
 * Every available backend other than `keep`, for removing other modes'
 * leftovers on start and for `--cleanup` (which passes no `keep`).
 */
export async function otherBackends(keep: ProxyMode | undefined, params: BackendParams): Promise<ProxyBackend[]> {
  const out: ProxyBackend[] = [];
  // Only the active backend registers metrics; these exist just to clean up.
  params = { ...params, registry: undefined };
  for (const mode of availableModes()) {
    if (mode === keep) continue;
    if (mode === 'iptables') {
      // Both variants may hold rules (a switch of iptables alternatives).
      for (const variant of ['legacy', 'nft'] as const) {
        const opts = { ...params.options, iptablesBackend: variant };
        out.push(await createBackend(mode, { ...params, options: opts }));
      }
    } else {
      out.push(await createBackend(mode, params));
    }
  }
  return out;
}
