import { Gauge, type Registry } from 'prom-client';

/** What `tools/build/bundle.mjs` stamps into a program. */
export interface BuildInfo {
  /** Semantic version of the release (the repository's package.json). */
  version: string;
  /** Git commit the program was built from. */
  commit: string;
  /** When it was built (ISO 8601, UTC). */
  date: string;
}

// Replaced by esbuild's `define` at bundle time; absent when running from sources (tests).
declare const SVCNET_BUILD: BuildInfo | undefined;

/** This program's build: stamped by the bundler, or a development placeholder. */
export function buildInfo(): BuildInfo {
  return typeof SVCNET_BUILD !== 'undefined' ? SVCNET_BUILD : { version: '0.0.0-dev', commit: 'unknown', date: 'unknown' };
}

/** `svcnet-state v0.2.0 (commit 1a2b3c4, built 2026-12-03T10:00:00Z, node v20.20.2)` for `--version`. */
export function versionLine(program: string): string {
  const b = buildInfo();
  return `${program} v${b.version} (commit ${b.commit}, built ${b.date}, node ${process.version})`;
}

/** `svcnet_build_info{version,commit,build_date,node_version} 1`, as Kubernetes components expose kubernetes_build_info. */
export function registerBuildInfo(registry: Registry, program: string): void {
  const b = buildInfo();
  new Gauge({
    name: 'svcnet_build_info',
    help: 'A metric with a constant 1 labelled by the version, commit and build date of this program',
    labelNames: ['program', 'version', 'commit', 'build_date', 'node_version'],
    registers: [registry],
  }).set({ program, version: b.version, commit: b.commit, build_date: b.date, node_version: process.version }, 1);
}
