#!/usr/bin/env node
// Command-line wiring only; each subcommand lives in src/commands/ (SPEC §2).
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { checkCommand } from './commands/check.js';
import { runCommand } from './commands/run.js';
import { ConfigError } from './errors.js';

const DEFAULT_CONFIG = '/etc/sni-forwarder/config.yaml';

function packageVersion(): string {
  const pkg: unknown = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  return typeof pkg === 'object' && pkg !== null && 'version' in pkg && typeof pkg.version === 'string' ? pkg.version : 'unknown';
}

/** Prints an error as users should see it: one sentence, a stack trace only with --debug. */
function fail(err: unknown, debug: boolean): never {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
  } else if (debug && err instanceof Error) {
    process.stderr.write(`${err.stack ?? err.message}\n`);
  } else {
    process.stderr.write(`sni-forwarder: ${err instanceof Error ? err.message : String(err)}\n`);
  }
  process.exit(1);
}

const program = new Command()
  .name('sni-forwarder')
  .description('Forward TLS connections by SNI name to allowlisted upstreams without terminating TLS.')
  .version(packageVersion())
  .option('--debug', 'print stack traces for errors')
  .showHelpAfterError();

const debug = (): boolean => program.opts<{ debug?: boolean }>().debug === true;

program
  .command('run')
  .description('run the daemon')
  .option('-c, --config <file>', 'configuration file', DEFAULT_CONFIG)
  .action(async (opts: { config: string }) => {
    try {
      await runCommand(opts.config);
    } catch (err) {
      fail(err, debug());
    }
  });

program
  .command('check')
  .description('validate the configuration and print the effective route table')
  .option('-c, --config <file>', 'configuration file', DEFAULT_CONFIG)
  .action(async (opts: { config: string }) => {
    try {
      await checkCommand(opts.config);
    } catch (err) {
      fail(err, debug());
    }
  });

await program.parseAsync(process.argv);
