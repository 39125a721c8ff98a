import { IptablesBackend } from '@svcnet/backend-iptables';
import { IpvsBackend } from '@svcnet/backend-ipvs';
import { NftablesBackend } from '@svcnet/backend-nftables';
import { UserspaceBackend } from '@svcnet/backend-userspace';
import type { NetExec } from '@svcnet/netexec';
import { ProxyMode, type NodeConfig, type ProxyBackend } from '@svcnet/proxy-core';
import { ErrorCode, SvcnetError } from '@svcnet/model';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { AgentOptions } from './flags.js';

/** What every backend is built from; each takes the fields it knows. */
export interface BackendParams {
  exec: NetExec;
  options: AgentOptions;
  config: NodeConfig;
  logger: Logger;
  /** The agent's Prometheus registry; only the active backend registers metrics on it. */
  registry?: Registry;
}

/**
 * Builds the backend for one mode: a typed switch, each backend given the
 * fields it knows from the one parameter shape.
 */
export async function createBackend(mode: ProxyMode, params: BackendParams): Promise<ProxyBackend> {
  const { exec, options, config } = params;
  const logger = params.logger.child({ backend: mode });
  // kube-proxy's --iptables-backend applies wherever iptables rules are written (IPVS mode too);
  // 'auto' is detected by the iptables backend itself and means the system default elsewhere.
  const variant = options.iptablesBackend === 'auto' ? undefined : options.iptablesBackend;
  switch (mode) {
    case 'iptables':
      return new IptablesBackend({ exec, variant: options.iptablesBackend });
    case 'ipvs':
      return new IpvsBackend({ exec, config, scheduler: options.ipvsScheduler, strictArp: options.ipvsStrictArp, ...(variant ? { variant } : {}) });
    case 'nftables':
      return new NftablesBackend({ exec, config, logger });
    case 'userspace':
      return new UserspaceBackend({
        exec,
        logger,
        ...(options.proxyPortRange ? { proxyPortRange: options.proxyPortRange } : {}),
        ...(params.registry ? { metricsRegistry: params.registry } : {}),
      });
    default: {
      const unknown: never = mode;
      throw new SvcnetError(ErrorCode.InvalidArgument, `unknown proxy mode "${String(unknown)}"`, { field: 'proxy-mode' });
    }
  }
}

/**
 * Every available backend other than `keep`, for removing other modes'
 * leftovers on start and for `--cleanup` (which passes no `keep`).
 */
export async function otherBackends(keep: ProxyMode | undefined, params: BackendParams): Promise<ProxyBackend[]> {
  const out: ProxyBackend[] = [];
  // Only the active backend registers metrics; these exist just to clean up.
  params = { ...params, registry: undefined };
  for (const mode of Object.values(ProxyMode)) {
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
