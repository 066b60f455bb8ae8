// Client-side redirection lines for the allowed names (SPEC §7 `hosts`). Pure: patterns, an IP
// and a file name go in, lines and warnings come out; the command does the I/O.

import { isIP } from 'node:net';
import type { Parsed } from '../config/address.js';

/** Output formats of `sni-forwarder hosts`. */
export type HostsFormat = 'hosts' | 'dnsmasq';

/** Every HostsFormat, for the CLI's --format choices. */
export const HOSTS_FORMATS: readonly HostsFormat[] = ['hosts', 'dnsmasq'];

/** What `formatHostsFile` needs: route patterns as configured, the forwarder's IP and the config's name. */
export interface HostsFileInput {
  /** Normalised route patterns (exact names or `*.suffix`), in any order. */
  readonly patterns: readonly string[];
  /** The forwarder's address as clients reach it; checked by parseHostsAddress. */
  readonly address: string;
  /** The config file the names come from (named in the header comment). */
  readonly configFile: string;
  readonly format: HostsFormat;
}

/** The file text as lines (without newlines), and warnings meant for stderr (no prefix). */
export interface HostsFile {
  readonly lines: readonly string[];
  readonly warnings: readonly string[];
}

/**
 * Checks the `--address` value: an IPv4 or IPv6 literal, without brackets, zone identifier or
 * port; returns it with IPv6 letters lowercased. The unspecified addresses (0.0.0.0, ::) are
 * refused: in a hosts file they mean "block this name", never "the forwarder".
 */
export function parseHostsAddress(s: string): Parsed<string> {
  const example = 'give the forwarder\'s IPv4 or IPv6 address as clients reach it, such as 203.0.113.10 or 2001:db8::10';
  if (s.startsWith('[') && s.endsWith(']')) return { ok: false, reason: `--address "${s}": write IPv6 addresses without brackets` };
  if (s.includes('%')) return { ok: false, reason: `--address "${s}": zone identifiers cannot be used in a hosts file` };
  const family = isIP(s);
  if (family === 0) return { ok: false, reason: `--address "${s}" is not an IP address; ${example}` };
  const ip = family === 6 ? s.toLowerCase() : s;
  if (/^[0.]+$/.test(ip) || /^[0:]+$/.test(ip)) {
    return { ok: false, reason: `--address "${s}" is the unspecified address, which hosts files treat as "block"; ${example}` };
  }
  return { ok: true, value: ip };
}

/**
 * Builds the redirection file for `input.format`:
 * - `hosts`: a header comment, then `IP name` for every exact name, sorted. A wildcard cannot be
 *   written in a hosts file, so each becomes a warning with the dnsmasq line that covers it.
 * - `dnsmasq`: `host-record=name,IP` for every exact name (sorted), then `address=/suffix/IP`
 *   for every wildcard (sorted by suffix), each with a comment on how much it covers. No warnings.
 * The result depends only on the input (no dates, no config order), so output diffs cleanly.
 */
export function formatHostsFile(input: HostsFileInput): HostsFile {
  const { address: ip, configFile, format } = input;
  const exact = input.patterns.filter((p) => !p.startsWith('*.')).sort(compareNames);
  const suffixes = input.patterns.filter((p) => p.startsWith('*.')).map((p) => p.slice(2)).sort(compareNames);
  const allowed = allowedBy(input.patterns);
  const lines: string[] = [];
  const warnings: string[] = [];

  if (format === 'hosts') {
    lines.push(
      `# sni-forwarder: names allowed by ${configFile}, pointed at the forwarder ${ip}.`,
      '# Append to the client\'s hosts file (/etc/hosts; on Windows C:\\Windows\\System32\\drivers\\etc\\hosts).',
    );
    if (suffixes.length > 0) {
      lines.push(`# Not listed: ${suffixes.length} wildcard pattern(s) (${suffixes.map((s) => `*.${s}`).join(', ')}); a hosts file cannot hold them, see \`sni-forwarder hosts --format dnsmasq\`.`);
    }
    for (const name of exact) lines.push(`${ip} ${name}`);
    for (const suffix of suffixes) {
      warnings.push(`*.${suffix} is a wildcard and cannot be written in a hosts file; add each name you use ` +
        `("${ip} NAME.${suffix}"), or let dnsmasq cover it with "address=/${suffix}/${ip}", which ${coverage(suffix, allowed)}`);
    }
    return { lines, warnings };
  }

  lines.push(
    `# sni-forwarder: names allowed by ${configFile}, pointed at the forwarder ${ip}.`,
    '# dnsmasq configuration, e.g. /etc/dnsmasq.d/sni-forwarder.conf.',
  );
  if (exact.length > 0) {
    // address=/NAME/IP would also answer for every name below NAME, sending names the forwarder
    // refuses to it; host-record answers for NAME alone (and adds a PTR record for IP).
    lines.push('# Exact names: host-record answers for the name alone; address=/name/ would also catch every name below it.');
    for (const name of exact) lines.push(`host-record=${name},${ip}`);
  }
  for (const suffix of suffixes) {
    lines.push(`# *.${suffix}: the next line ${coverage(suffix, allowed)}`);
    lines.push(`address=/${suffix}/${ip}`);
  }
  return { lines, warnings };
}

/** Why `address=/suffix/` is broader than `*.suffix` (a phrase completing "that line ..."). */
function coverage(suffix: string, allowed: (name: string) => boolean): string {
  const self = allowed(suffix)
    ? `${suffix} itself (allowed by another route)`
    : `${suffix} itself (refused by the forwarder)`;
  return `also sends ${self} and names at any depth below it, such as a.b.${suffix} ` +
    `(refused unless another route allows them), to the forwarder; the route allows exactly one label, such as x.${suffix}.`;
}

/** The router's rule on plain patterns: an exact name, or one label in front of a wildcard suffix. */
function allowedBy(patterns: readonly string[]): (name: string) => boolean {
  const set = new Set(patterns);
  return (name) => {
    if (set.has(name)) return true;
    const dot = name.indexOf('.');
    return dot > 0 && set.has(`*.${name.slice(dot + 1)}`);
  };
}

/** Plain code-point order: names are lowercase ASCII, so this is stable across locales. */
function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
