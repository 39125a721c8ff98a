import { writeFileSync } from 'node:fs';
import { SvcnetError } from '@svcnet/model';
import { kubeProxyConfigText } from './kube-proxy-config.js';
import { NodeAgent, cleanupEverything } from './agent.js';
import { buildCommand, parseAgentArgs, type AgentOptions } from './flags.js';
import { createLogger } from './logger.js';
import { stopOnSignals, versionLine } from '@svcnet/service-runtime';

/** How long --dump-rules waits for the initial lists. */
const DUMP_LIST_TIMEOUT_MS = 30_000;

function usageError(err: unknown): never {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`svcnet-agent: ${message}\nRun svcnet-agent --help for usage.\n`);
  process.exit(2);
}

async function dumpRules(options: AgentOptions): Promise<void> {
  const logger = createLogger({ verbosity: options.verbosity, nodeName: options.nodeName });
  const agent = new NodeAgent({ options, logger, dryRun: true });
  try {
    await agent.start();
    await agent.waitForInitialLists(DUMP_LIST_TIMEOUT_MS);
    const text = await agent.renderNow();
    process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  } finally {
    await agent.stop();
  }
}

async function run(options: AgentOptions): Promise<void> {
  const logger = createLogger({ verbosity: options.verbosity, nodeName: options.nodeName });
  const agent = new NodeAgent({ options, logger });
  stopOnSignals(logger, () => agent.stop(), { message: 'shutting down; programmed rules stay in place' });
  await agent.start();
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--version')) {
    process.stdout.write(`${versionLine('svcnet-agent')}\n`);
    process.exit(0);
  }
  if (argv.includes('--help') || argv.includes('-h')) {
    buildCommand().outputHelp();
    process.exit(0);
  }
  let options: AgentOptions;
  try {
    options = parseAgentArgs(argv);
  } catch (err) {
    usageError(err);
  }
  if (options.writeConfigTo) {
    writeFileSync(options.writeConfigTo, kubeProxyConfigText(options), { mode: 0o600 });
    process.exit(0);
  }
  if (options.cleanup) {
    const logger = createLogger({ verbosity: options.verbosity, nodeName: options.nodeName });
    const failures = await cleanupEverything({ options, logger });
    for (const f of failures) process.stderr.write(`svcnet-agent --cleanup: ${f}\n`);
    // kube-proxy --cleanup semantics for svcnet: everything that could be removed was; a mode
    // without kernel support (IPVS here) cannot hold rules, so its failure is reported, not fatal.
    process.exit(0);
  }
  if (options.dumpRules) {
    await dumpRules(options);
    process.exit(0);
  }
  await run(options);
}

main().catch((err: unknown) => {
  // SvcnetError messages already name the field (`proxy-mode: …`).
  const message = err instanceof SvcnetError || !(err instanceof Error) ? String(err instanceof Error ? err.message : err) : err.stack ?? err.message;
  process.stderr.write(`svcnet-agent: ${message}\n`);
  process.exit(1);
});
