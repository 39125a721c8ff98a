import { SvcnetError } from '@svcnet/model';
import { buildInfo, createServiceLogger, stopOnSignals, versionLine } from '@svcnet/service-runtime';
import { DnsApp } from './dns-app.js';
import { buildCommand, parseDnsArgs, type DnsOptions } from './flags.js';

const VERSION = buildInfo().version;

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    buildCommand(VERSION).outputHelp();
    process.exit(0);
  }
  if (argv.includes('--version')) {
    process.stdout.write(`${versionLine('svcnet-dns')} (Kubernetes DNS schema 1.1.0)\n`);
    process.exit(0);
  }
  let options: DnsOptions;
  try {
    options = parseDnsArgs(argv, VERSION);
  } catch (err) {
    process.stderr.write(`svcnet-dns: ${err instanceof Error ? err.message : String(err)}\nRun svcnet-dns --help for usage.\n`);
    process.exit(2);
  }
  const logger = createServiceLogger({ name: 'svcnet-dns', verbosity: options.verbosity });
  const app = new DnsApp({ options, logger });
  stopOnSignals(logger, () => app.stop());
  await app.start();
}

main().catch((err: unknown) => {
  const message = err instanceof SvcnetError || !(err instanceof Error) ? String(err instanceof Error ? err.message : err) : err.stack ?? err.message;
  process.stderr.write(`svcnet-dns: ${message}\n`);
  process.exit(1);
});
