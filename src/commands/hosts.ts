import { formatHostPort } from '../config/address.js';
import { loadConfig } from '../config/load.js';
import { Router } from '../decide/router.js';
import { formatHostsFile, parseHostsAddress, type HostsFormat } from '../registry/hosts-file.js';

/** Where `hosts` writes: the file text to stdout, warnings to stderr. */
export interface HostsOutput {
  readonly out: (line: string) => void;
  readonly warn: (line: string) => void;
}

const STDIO: HostsOutput = {
  out: (line) => process.stdout.write(`${line}\n`),
  warn: (line) => process.stderr.write(`${line}\n`),
};

/** Port clients use for registries (https): a hosts-file redirect only works if a listener has it. */
const HTTPS_PORT = 443;

/**
 * `hosts --address IP`: prints client-side redirection lines for every allowed name (SPEC §7),
 * warnings on stderr. Throws an Error (one sentence) for a bad address and the ConfigError for
 * an invalid config; the CLI prints either and exits 1.
 */
export async function hostsCommand(
  file: string, opts: { address: string; format: HostsFormat }, io: HostsOutput = STDIO,
): Promise<void> {
  const ip = parseHostsAddress(opts.address);
  if (!ip.ok) throw new Error(ip.reason);
  const config = await loadConfig(file);
  const patterns = Router.compile(config.routes).routes.map((r) => r.pattern);
  const result = formatHostsFile({ patterns, address: ip.value, configFile: config.file, format: opts.format });
  for (const line of result.lines) io.out(line);
  for (const w of result.warnings) io.warn(`warning: ${w}`);
  if (!config.listen.some((l) => l.protocol === 'tls' && l.address.port === HTTPS_PORT)) {
    const listeners = config.listen.map((l) => `${formatHostPort(l.address)} ${l.protocol}`).join(', ');
    io.warn(`warning: no tls listener on port ${HTTPS_PORT} (${listeners}); clients redirected by name connect to port ${HTTPS_PORT}, so forward that port to the listener`);
  }
}
