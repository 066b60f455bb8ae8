import { formatHostPort } from '../config/address.js';
import { loadConfig } from '../config/load.js';
import { Router } from '../decide/router.js';
import { formatHostsFile, parseHostsAddress, type HostsFormat } from '../registry/hosts-file.js';
import { sharedNameWarnings } from '../registry/shared-names.js';
import { WRAP_COLUMNS, warningLines } from './output.js';

/** Where `hosts` writes: the file text to stdout, warnings to stderr, wrapped at `columns`. */
export interface HostsOutput {
  readonly out: (line: string) => void;
  readonly warn: (line: string) => void;
  readonly columns: number;
}

const STDIO: HostsOutput = {
  out: (line) => process.stdout.write(`${line}\n`),
  warn: (line) => process.stderr.write(`${line}\n`),
  // A terminal narrower than WRAP_COLUMNS gets its own width; a pipe or a wide one gets WRAP_COLUMNS.
  columns: Math.min(process.stderr.columns ?? WRAP_COLUMNS, WRAP_COLUMNS),
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
  // A hosts file holds the exact names only; dnsmasq gets the wildcards too.
  const written = opts.format === 'hosts' ? patterns.filter((p) => !p.startsWith('*.')) : patterns;
  const warnings = [...result.warnings, ...sharedNameWarnings([...written].sort())];
  if (!config.listen.some((l) => l.protocol === 'tls' && l.address.port === HTTPS_PORT)) {
    const listeners = config.listen.map((l) => `${formatHostPort(l.address)} ${l.protocol}`).join(', ');
    warnings.push(`no tls listener on port ${HTTPS_PORT} (${listeners}); clients redirected by name connect to port ${HTTPS_PORT}, so forward that port to the listener`);
  }
  for (const w of warnings) for (const line of warningLines(w, io.columns)) io.warn(line);
}
