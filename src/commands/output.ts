// How every command speaks on stderr (issue #16): each error and warning line starts with the
// program's name, so a line read out of context (a cron mail, a CI log) says where it came from.
//   sni-forwarder: c.yaml:3:1: resolvr: unknown key; did you mean resolver? (...)
//   sni-forwarder: cannot reach the daemon at http://127.0.0.1:9464/metrics: ECONNREFUSED
//   sni-forwarder: warning: *.s3.example.com is a wildcard and ...
// The daemon itself (`run`) writes JSON log lines instead: see commands/run.ts.
import { ConfigError } from '../errors.js';

/** The prefix of every line a command writes on stderr. */
export const PROGRAM = 'sni-forwarder';

/** Width long warnings are wrapped to when stderr is not a terminal (or a wider one). */
export const WRAP_COLUMNS = 100;

/**
 * The stderr text for an error: each line prefixed with "sni-forwarder: ". A ConfigError gives
 * one line per problem; anything else its message, or with `debug` its stack.
 */
export function errorText(err: unknown, debug: boolean): string {
  if (err instanceof ConfigError) return err.message.split('\n').map((l) => `${PROGRAM}: ${l}\n`).join('');
  if (debug && err instanceof Error && err.stack !== undefined) return `${PROGRAM}: ${err.stack}\n`;
  return `${PROGRAM}: ${err instanceof Error ? err.message : String(err)}\n`;
}

/** A warning as lines: "sni-forwarder: warning: TEXT", wrapped at `columns` with a 2-space hanging indent. */
export function warningLines(text: string, columns: number = WRAP_COLUMNS): string[] {
  return wrapText(`${PROGRAM}: warning: ${text}`, columns, '  ');
}

/**
 * Breaks `text` into lines of at most `columns` characters at spaces; continuation lines start
 * with `indent`. A word longer than a line (a URL, a host name) is kept whole on its own line.
 */
export function wrapText(text: string, columns: number, indent = ''): string[] {
  const lead = /^ */.exec(text)?.[0] ?? '';
  const lines: string[] = [];
  let line = '';
  for (const word of text.slice(lead.length).split(' ')) {
    if (line === '') line = (lines.length === 0 ? lead : indent) + word;
    else if (line.length + 1 + word.length <= columns || word === '') line += ` ${word}`;
    else {
      lines.push(line);
      line = indent + word;
    }
  }
  lines.push(line);
  return lines;
}

/**
 * Turns commander's error text ("error: option '--format <format>' argument 'foo' is invalid.
 * Allowed choices are hosts, dnsmasq.\n") into one line in the program's style, without the help
 * dump: "sni-forwarder: --format "foo": expected one of hosts, dnsmasq".
 */
export function commanderErrorLine(text: string, command: string): string {
  const flat = text.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ').trim();
  const choice = /^option '(-[^ ']+)[^']*' argument '(.*)' is invalid\. Allowed choices are (.*)\.$/.exec(flat);
  if (choice !== null) return `${PROGRAM}: ${choice[1]} ${JSON.stringify(choice[2])}: expected one of ${choice[3]}\n`;
  const invalid = /^option '(-[^ ']+)[^']*' argument '(.*)' is invalid\. (.*)$/.exec(flat);
  if (invalid !== null) return `${PROGRAM}: ${invalid[1]} ${JSON.stringify(invalid[2])}: ${invalid[3]}\n`;
  const help = command === '' ? `${PROGRAM} --help` : `${PROGRAM} ${command} --help`;
  const sentence = flat.replace(/\(Did you mean (.*)\?\)$/, '(did you mean $1?)').replace(/\.$/, '');
  return `${PROGRAM}: ${sentence}; see ${help}\n`;
}
