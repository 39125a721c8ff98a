import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateNatsAuth, natsUserName, NatsRole } from '@svcnet/nats-auth';
import { createClusterPki } from '@svcnet/pki';
import { allocatorArgv, bundlePath, natsArgv, stateArgv, statePort, type ExtraArgs, type NatsAccess, type TlsFiles } from './components.js';
import { clientConfigYaml } from '@svcnet/client';
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
export const DEFAULT_CONTROL_PLANE: ControlPlaneSettings = { natsServers: 3, auth: true, tls: true, stateReplicas: 1 };

/** Where the cluster's CA and certificates live (0700 directory, 0600 keys). */
export function pkiDir(state: ClusterState): string {
  return join(state.stateDir, 'pki');
}

/** The svcnetctl config of the cluster (admin certificate, every state replica), when TLS is on. */
export function svcnetctlConfigPath(state: ClusterState): string | undefined {
  return state.controlPlane?.tls ? join(pkiDir(state), 'config') : undefined;
}

/** One TLS identity of the cluster's PKI (`state`, `allocator`, `admin`, `viewer`, `state-allocator-client`, `nats`). */
export function tlsFiles(state: ClusterState, name: string): TlsFiles | undefined {
  if (!state.controlPlane?.tls) return undefined;
  const dir = pkiDir(state);
  return { caFile: join(dir, 'ca.crt'), certFile: join(dir, `${name}.crt`), keyFile: join(dir, `${name}.key`) };
}

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
  const ca = tlsFiles(state, 'nats')?.caFile;
  return { url: natsUrls(via === 'loopback' ? '127.0.0.1' : state.plan.controlPlane.ip, size), ...(creds ? { creds } : {}), ...(ca ? { ca } : {}) };
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
  for (const u of bundle.users) writeFileSync(join(dir, `${u.user}.creds`), u.creds, { mode: 0o600 });
  return bundle.serverConfig;
}

/** The CA and certificates (servers reachable at the control plane's address and loopback), and svcnetctl's config. */
async function writePki(state: ClusterState, stateReplicas: number): Promise<void> {
  const dir = pkiDir(state);
  const pki = await createClusterPki({ dir, serverHosts: [state.plan.controlPlane.ip] });
  const servers = Array.from({ length: stateReplicas }, (_, r) => `127.0.0.1:${statePort(r)}`);
  const users = [
    { name: 'admin', ...pki.admin },
    { name: 'viewer', ...pki.viewer },
  ];
  writeFileSync(join(dir, 'config'), clientConfigYaml({ servers, caFile: pki.ca.certFile, users, dir }), { mode: 0o600 });
}

/** nats-server's TLS block: clients must use TLS and check the server against the cluster CA. */
function natsTlsConfig(files: TlsFiles): string {
  return ['tls {', `  cert_file: "${files.certFile}"`, `  key_file: "${files.keyFile}"`, `  ca_file: "${files.caFile}"`, '  timeout: 5', '}', ''].join('\n');
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
  if (settings.natsServers === 0) {
    // The network alone: the caller brings its own control plane (the install test does).
    state.skipped.push('nats, allocator, state (natsServers: 0)');
    return;
  }
  const cp = state.plan.controlPlane.ns;
  if (settings.tls) await writePki(state, settings.stateReplicas);
  const natsTls = tlsFiles(state, 'nats');
  const configText = [settings.auth ? await writeAuth(state) : '', natsTls ? natsTlsConfig(natsTls) : ''].join('\n').trim();
  let configFile: string | undefined;
  if (configText) {
    mkdirSync(authDir(state), { recursive: true, mode: 0o700 });
    configFile = join(authDir(state), 'server.conf');
    writeFileSync(configFile, `${configText}\n`, { mode: 0o600 });
  }
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
  log(
    `nats-server x${settings.natsServers}${settings.auth ? ', credentials' : ''}${settings.tls ? ', TLS' : ''}: ${natsUrls(state.plan.controlPlane.ip, settings.natsServers)}`,
  );
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
      ...(settings.tls ? { tls: tlsFiles(state, 'allocator')! } : {}),
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
        ...(settings.tls ? { tls: tlsFiles(state, 'state')!, allocatorClient: tlsFiles(state, 'state-allocator-client')! } : {}),
        ...(opts.extraArgs?.state ? { extra: opts.extraArgs.state } : {}),
      }),
    );
    // JetStream elects its leaders a few seconds after the servers start; the state service waits for its bucket.
    await host.waitListening(s, statePort(r), 60_000);
    host.startBridge(stateComponent(r), statePort(r));
  }
  log(`allocator and state x${settings.stateReplicas}: ${state.plan.controlPlane.ip}:${ControlPlanePorts.state} (gRPC${settings.tls ? ', mutual TLS' : ', plaintext'})`);
}

/** The component name of state replica `r`. */
export function stateComponent(r: number): string {
  return r === 0 ? 'state' : `state-${r}`;
}
