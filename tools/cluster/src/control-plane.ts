import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateNatsAuth, natsUserName, NatsRole } from '@svcnet/nats-auth';
import { allocatorArgv, bundlePath, natsArgv, stateArgv, statePort, type ExtraArgs, type NatsAccess } from './components.js';
import type { ClusterState, ControlPlaneSettings, ProcessRecord } from './state-file.js';
import { ControlPlanePorts, natsUrls } from './topology.js';

/** What the control plane needs from its cluster (kept narrow so this file stays about the control plane). */
export interface ControlPlaneHost {
  readonly state: ClusterState;
  startProcess(component: string, ns: string, argv: string[], env?: Record<string, string>): ProcessRecord;
  waitListening(rec: ProcessRecord, port: number, timeoutMs?: number): Promise<void>;
  startBridge(which: string, port: number): void;
  save(): void;
}

/** Defaults: secure and highly available, as operators will run it. */
export const DEFAULT_CONTROL_PLANE: ControlPlaneSettings = { natsServers: 3, auth: true, stateReplicas: 1 };

/** Where the cluster's generated credentials live (0700 directory, 0600 files). */
export function authDir(state: ClusterState): string {
  return join(state.stateDir, 'auth');
}

/** The credentials file of a NATS user, when auth is on. */
export function credsPath(state: ClusterState, user: string): string | undefined {
  return state.controlPlane?.auth ? join(authDir(state), `${user}.creds`) : undefined;
}

/** How a program reaches NATS: from inside the control plane (loopback) or over the wire. */
export function natsAccess(state: ClusterState, user: string, via: 'loopback' | 'wire'): NatsAccess {
  const size = state.controlPlane?.natsServers ?? 1;
  const creds = credsPath(state, user);
  return { url: natsUrls(via === 'loopback' ? '127.0.0.1' : state.plan.controlPlane.ip, size), ...(creds ? { creds } : {}) };
}

/** Replicas of the buckets: one per NATS server, at most 3 (JetStream's usual R3). */
export function kvReplicas(settings: ControlPlaneSettings): number {
  return Math.min(3, settings.natsServers);
}

/**
 * Writes the NATS server configuration and one `.creds` per program (per node
 * for agents); each program is later given only its own file.
 */
async function writeAuth(state: ClusterState): Promise<string> {
  const dir = authDir(state);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const bundle = await generateNatsAuth({ nodes: state.plan.nodes.map((n) => n.name) });
  const configFile = join(dir, 'server.conf');
  writeFileSync(configFile, bundle.serverConfig, { mode: 0o600 });
  for (const u of bundle.users) writeFileSync(join(dir, `${u.user}.creds`), u.creds, { mode: 0o600 });
  return configFile;
}

/** The NATS server of index `i` (0-based): component name and port. */
export function natsComponent(i: number): { component: string; port: number } {
  return { component: i === 0 ? 'nats' : `nats-${i}`, port: ControlPlanePorts.nats + i };
}

/**
 * Starts the control plane in its namespace: `natsServers` nats-servers as one
 * JetStream cluster (all in the control-plane namespace, on ports 4222…, routes
 * on 6222…), then the allocator and `stateReplicas` state services, each with
 * its own NATS user.
 */
export async function startControlPlane(
  host: ControlPlaneHost,
  opts: { settings: ControlPlaneSettings; extraArgs?: ExtraArgs; withServices: boolean },
  log: (m: string) => void,
): Promise<void> {
  const { state } = host;
  const settings = opts.settings;
  state.controlPlane = settings;
  host.save();
  const cp = state.plan.controlPlane.ns;
  const configFile = settings.auth ? await writeAuth(state) : undefined;
  const servers = Array.from({ length: settings.natsServers }, (_, i) => {
    const { component, port } = natsComponent(i);
    const argv = natsArgv({
      storeDir: join(state.stateDir, 'nats', String(i)),
      index: i,
      size: settings.natsServers,
      clusterName: state.name,
      ...(configFile ? { configFile } : {}),
    });
    return { rec: host.startProcess(component, cp, argv), port };
  });
  for (const s of servers) await host.waitListening(s.rec, s.port);
  host.startBridge('nats', ControlPlanePorts.nats);
  log(`nats-server x${settings.natsServers}${settings.auth ? ' (credentials on)' : ''}: ${natsUrls(state.plan.controlPlane.ip, settings.natsServers)}`);
  if (!opts.withServices) {
    state.skipped.push('allocator, state (not requested)');
    return;
  }
  const allocator = bundlePath(state.repoRoot, 'allocator');
  const stateApp = bundlePath(state.repoRoot, 'state');
  if (!allocator || !stateApp) {
    const missing = [!allocator && 'allocator', !stateApp && 'state'].filter(Boolean).join(', ');
    state.skipped.push(`${missing} (bundle not built: npx nx run-many -t build)`);
    log(`control plane NOT started: ${missing} not built`);
    return;
  }
  const replicas = kvReplicas(settings);
  const a = host.startProcess(
    'allocator',
    cp,
    allocatorArgv({
      bundle: allocator,
      nats: natsAccess(state, natsUserName(NatsRole.Allocator), 'loopback'),
      kvReplicas: replicas,
      ...(opts.extraArgs?.allocator ? { extra: opts.extraArgs.allocator } : {}),
    }),
  );
  await host.waitListening(a, ControlPlanePorts.allocator);
  for (let r = 0; r < settings.stateReplicas; r++) {
    const s = host.startProcess(
      stateComponent(r),
      cp,
      stateArgv({
        bundle: stateApp,
        nats: natsAccess(state, natsUserName(NatsRole.State), 'loopback'),
        kvReplicas: replicas,
        replica: r,
        ...(opts.extraArgs?.state ? { extra: opts.extraArgs.state } : {}),
      }),
    );
    // JetStream elects its leaders a few seconds after the servers start; the state service waits for its bucket.
    await host.waitListening(s, statePort(r), 60_000);
    host.startBridge(stateComponent(r), statePort(r));
  }
  log(`allocator and state x${settings.stateReplicas}: ${state.plan.controlPlane.ip}:${ControlPlanePorts.state} (gRPC)`);
}

/** The component name of state replica `r`. */
export function stateComponent(r: number): string {
  return r === 0 ? 'state' : `state-${r}`;
}
