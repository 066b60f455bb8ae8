#!/usr/bin/env node
// Command-line wiring only; each subcommand lives in src/commands/ (SPEC §2).
import { Command, Option } from 'commander';
import { checkCommand } from './commands/check.js';
import { probeCommand, type ProbeCommandOptions } from './commands/probe.js';
import { hostsCommand } from './commands/hosts.js';
import { routeCommand } from './commands/route.js';
import { runCommand } from './commands/run.js';
import { statusCommand, type StatusCommandOptions } from './commands/status.js';
import { commanderErrorLine, errorText } from './commands/output.js';
import { HOSTS_FORMATS, type HostsFormat } from './registry/hosts-file.js';
import { packageVersion } from './version.js';

const DEFAULT_CONFIG = '/etc/sni-forwarder/config.yaml';

/** Prints an error as users should see it: "sni-forwarder: " and one sentence, a stack trace only with --debug. */
function fail(err: unknown, debug: boolean): never {
  process.stderr.write(errorText(err, debug));
  process.exit(1);
}

/** Commander's own errors (unknown option, bad choice) as one line in the same style, no help dump. */
const oneLine = (command: string) => ({
  outputError: (text: string, write: (s: string) => void) => write(commanderErrorLine(text, command)),
});

const program = new Command()
  .name('sni-forwarder')
  .description('Forward TLS connections by SNI name to allowlisted upstreams without terminating TLS.')
  .version(packageVersion())
  .option('--debug', 'print stack traces for errors')
  .configureOutput(oneLine(''));

/** A subcommand whose usage errors are printed as one line naming it. */
const command = (name: string): Command => program.command(name).configureOutput(oneLine(name));

const debug = (): boolean => program.opts<{ debug?: boolean }>().debug === true;

/**
 * A command's action: runs `fn`, takes a number it returns as the exit code, and prints any
 * error as `fail` does.
 */
function action<A extends unknown[]>(fn: (...args: A) => Promise<number | void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      const code = await fn(...args);
      if (typeof code === 'number') process.exitCode = code;
    } catch (err) {
      fail(err, debug());
    }
  };
}

command('run')
  .description('run the daemon')
  .option('-c, --config <file>', 'configuration file', DEFAULT_CONFIG)
  .action(action((opts: { config: string }) => runCommand(opts.config)));

command('check')
  .description('validate the configuration and print the effective route table')
  .option('-c, --config <file>', 'configuration file', DEFAULT_CONFIG)
  .option('--unit <file>', "also compare a systemd .socket unit's ListenStream= lines with listen (exit 1 if a socket matches no listener); - reads the unit from stdin, e.g. from systemctl cat")
  .action(action((opts: { config: string; unit?: string }) => checkCommand(opts.config, opts.unit === undefined ? {} : { unit: opts.unit })));

command('status')
  .description("show the running daemon's per-host connections and bytes, read from its /metrics")
  .option('--metrics <url>', 'the metrics address to ask, e.g. http://127.0.0.1:9464 (default: metrics.address of the config)')
  .option('-c, --config <file>', 'configuration file', DEFAULT_CONFIG)
  .option('--json', 'print the figures as JSON')
  .option('--timeout <seconds>', 'for the request', '5')
  .action(action((opts: StatusCommandOptions) => statusCommand(opts)));

command('route')
  .description('show which route HOST matches and where it would connect, or why it is refused (exit 0 matched, 1 refused)')
  .argument('<host>', 'server name as a client would send it')
  .option('-c, --config <file>', 'configuration file', DEFAULT_CONFIG)
  .option('--json', 'print the answer as JSON')
  .action(action((host: string, opts: { config: string; json?: boolean }) => routeCommand(host, opts.config, { json: opts.json === true })));

command('hosts')
  .description('print hosts-file (or dnsmasq) lines pointing every allowed name at the forwarder')
  .requiredOption('--address <ip>', "the forwarder's IPv4 or IPv6 address as clients reach it")
  .option('-c, --config <file>', 'configuration file', DEFAULT_CONFIG)
  .addOption(new Option('--format <format>', 'output format').choices(HOSTS_FORMATS).default('hosts'))
  .action(action((opts: { address: string; config: string; format: HostsFormat }) => hostsCommand(opts.config, { address: opts.address, format: opts.format })));

command('probe')
  .description("walk a registry's pull flow and list every host it touches, marking those not allowed (exit 0 all allowed, 1 otherwise)")
  .argument('<registry>', 'registry host name, e.g. registry-vpc.cn-beijing.aliyuncs.com')
  .option('--via <ip[:port]>', 'send every connection to this address (a forwarder), keeping SNI and certificate checks for the real names')
  .option('--image <repo[:tag]>', 'also fetch a token, the manifest and the first bytes of one blob of this image')
  .option('-u, --user <user[:password]>', 'credentials for the token (Basic) request')
  .option('--ca <file>', 'an extra trusted CA certificate (PEM); NODE_EXTRA_CA_CERTS works too')
  .option('--timeout <seconds>', 'per request', '10')
  .option('--suggest', 'end with the YAML to paste under routes for every host not allowed')
  .option('-c, --config <file>', 'configuration file', DEFAULT_CONFIG)
  .action(action((registry: string, opts: ProbeCommandOptions) => probeCommand(registry, opts)));

await program.parseAsync(process.argv);
