// Addresses, CIDR blocks, host names and host patterns as written in the config file (SPEC §3).
// Pure: strings in, values or a reason out; nothing here throws on bad input.

import { isIP } from 'node:net';
import { checkHostName, MAX_HOST_NAME_CHARS } from '../sniff/host-name.js';
import type { Cidr, HostPort } from './types.js';

/** A parse result: the value, or a one-line reason fit to follow `key path:` in a message. */
export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = <T>(reason: string): Parsed<T> => ({ ok: false, reason });

/** RFC 1035 §2.3.4 / RFC 1123 §2.1: at most 253 characters without the root dot. */
export const MAX_HOSTNAME_LENGTH = MAX_HOST_NAME_CHARS;

/**
 * Cheap normalisation for matching: lowercase and drop one trailing dot (SPEC §3). It does not
 * validate; use validateHostname for that.
 */
export function normalizeHostname(s: string): string {
  const lower = s.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

/**
 * Checks a DNS host name and returns it normalised (lowercase, one trailing dot dropped), by the
 * same rule as an SNI name (checkHostName in sniff/host-name.ts): LDH labels of 1 to 63
 * characters that neither start nor end with `-`, at most 253 characters, no IP literal and no
 * numeric last label (so "10.0.0.300" is not taken for a name). Single-label names ("harbor")
 * are valid.
 */
export function validateHostname(s: string): Parsed<string> {
  const checked = checkHostName(s);
  if (checked.ok) return ok(checked.name);
  // The rule is checkHostName's; only the wording is the config's.
  if (isIP(s) !== 0) return fail(`"${s}" is an IP address, not a host name`);
  switch (checked.problem) {
    case 'empty': return fail(s === '' ? 'empty host name' : `"${s}" is not a host name`);
    case 'too_long': return fail(`host name longer than ${MAX_HOSTNAME_LENGTH} characters`);
    case 'empty_label': return fail(`empty label in "${s}"`);
    case 'label_too_long': return fail(`label longer than 63 characters in "${s}"`);
    case 'hyphen_at_label_edge': return fail(`label "${checked.detail}" in "${s}" starts or ends with "-"`);
    case 'bad_character':
    case 'ipv6_literal': {
      const bad = checked.problem === 'ipv6_literal' ? ':' : checked.detail;
      return fail(`invalid character ${JSON.stringify(bad)} in "${s}" (letters, digits, "-" and "." only)`);
    }
    case 'ipv4_literal': {
      const what = /^\d+$/.test(checked.detail) ? 'all digits' : 'a hex number';
      return fail(`"${s}" is not a host name (its last label is ${what}, as in an IPv4 address)`);
    }
  }
}

/** Fewest labels a wildcard suffix needs: `*.com` would forward a whole top-level domain. */
export const MIN_WILDCARD_SUFFIX_LABELS = 2;

/**
 * Checks a route host pattern and returns it normalised: an exact host name, or `*.suffix` where
 * `*` is exactly one whole leading label and `suffix` is a host name of at least two labels
 * (`*.example.com`, not `*.com`). Anything else with a `*` in it is refused.
 */
export function normalizeHostPattern(s: string): Parsed<string> {
  if (!s.includes('*')) return validateHostname(s);
  if (!s.startsWith('*.') || s.indexOf('*', 1) !== -1) {
    return fail(`"${s}": "*" must be the whole first label and appear once, as in "*.example.com"`);
  }
  const suffix = s.slice(2);
  if (suffix === '' || suffix === '.') return fail(`"${s}": nothing after "*."`);
  const checked = validateHostname(suffix);
  if (!checked.ok) return fail(`"${s}": ${checked.reason}`);
  if (checked.value.split('.').length < MIN_WILDCARD_SUFFIX_LABELS) {
    return fail(`"${s}" would match a whole top-level domain; use a suffix with at least two labels, such as "*.example.com"`);
  }
  return ok(`*.${checked.value}`);
}

/** Parses a decimal port 1..65535 (0 too when allowZero); no sign, no leading zeros. */
export function parsePort(s: string, allowZero = false): number | undefined {
  if (!/^(?:0|[1-9][0-9]{0,4})$/.test(s)) return undefined;
  const port = Number(s);
  if (port > 65535 || (port === 0 && !allowZero)) return undefined;
  return port;
}

/** What parseHostPort accepts beyond a plain "host:port" with a port 1..65535. */
export interface HostPortOptions {
  /** The host must be an IP literal (listen and metrics addresses, DNS servers). */
  readonly requireIp?: boolean;
  /** Accept port 0 (the OS picks a port; tests bind 127.0.0.1:0). */
  readonly allowPortZero?: boolean;
  /** Port used when the string has none ("10.0.0.2" for a DNS server); absent = port required. */
  readonly defaultPort?: number;
}

/**
 * Parses "host:port", "[v6]:port" or "0.0.0.0:443"; with defaultPort also "host", "v6" and "[v6]".
 * The returned host has no brackets and is lowercase; IP literals keep their written form.
 */
export function parseHostPort(s: string, opts: HostPortOptions = {}): Parsed<HostPort> {
  let host: string;
  let portText: string | undefined;
  if (s.startsWith('[')) {
    const close = s.indexOf(']');
    if (close === -1) return fail(`"${s}": missing "]"`);
    host = s.slice(1, close);
    if (isIP(host) !== 6) return fail(`"${s}": brackets are only for IPv6 addresses`);
    const rest = s.slice(close + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) return fail(`"${s}": expected ":port" after "]"`);
      portText = rest.slice(1);
    }
  } else {
    const colons = s.split(':').length - 1;
    if (colons > 1) {
      if (opts.defaultPort === undefined || isIP(s) !== 6) {
        return fail(`"${s}": put IPv6 addresses in brackets, as in "[::1]:443"`);
      }
      host = s;
    } else if (colons === 1) {
      const colon = s.indexOf(':');
      host = s.slice(0, colon);
      portText = s.slice(colon + 1);
    } else {
      host = s;
    }
  }

  let port: number;
  if (portText === undefined) {
    if (opts.defaultPort === undefined) return fail(`"${s}": expected host:port`);
    port = opts.defaultPort;
  } else {
    const p = parsePort(portText, opts.allowPortZero === true);
    if (p === undefined) {
      const range = opts.allowPortZero === true ? '0..65535' : '1..65535';
      return fail(`"${s}": port must be an integer ${range}`);
    }
    port = p;
  }

  if (host === '') return fail(`"${s}": missing host`);
  if (host.includes('%')) return fail(`"${s}": IPv6 zone identifiers are not supported`);
  if (isIP(host) !== 0) return ok({ host: host.toLowerCase(), port });
  if (opts.requireIp === true) return fail(`"${s}": expected an IP address, not a host name`);
  const name = validateHostname(host);
  return name.ok ? ok({ host: name.value, port }) : fail(name.reason);
}

/** "::ffff:10.1.2.3" → "10.1.2.3" (IPv4-mapped IPv6, RFC 4291 §2.5.5.2); anything else unchanged. */
export function unmapIPv4(address: string): string {
  const lower = address.toLowerCase();
  return lower.startsWith('::ffff:') && isIP(lower.slice(7)) === 4 ? lower.slice(7) : address;
}

/** Formats a HostPort back as "host:port", bracketing IPv6 ("[::1]:443"). */
export function formatHostPort(a: HostPort): string {
  return isIP(a.host) === 6 ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** A resolver's `servers` as `check` and `route` show them; null (none configured) is /etc/resolv.conf. */
export function formatServers(servers: readonly HostPort[] | null): string {
  return servers === null ? '/etc/resolv.conf' : servers.map(formatHostPort).join(', ');
}

/**
 * The 4 or 16 bytes of an IP literal (IPv4-in-IPv6 tails such as "::ffff:1.2.3.4" included);
 * undefined if the string is not an IP literal or has a zone identifier.
 */
export function ipBytes(ip: string): Uint8Array | undefined {
  const family = isIP(ip);
  if (family === 4) return Uint8Array.from(ip.split('.'), Number);
  if (family !== 6 || ip.includes('%')) return undefined;
  let text = ip.toLowerCase();
  const tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.')) {
    // Dotted IPv4 tail ("::ffff:1.2.3.4"): two 16-bit groups after the hex ones.
    const v4 = text.slice(lastColon + 1).split('.').map(Number);
    tail.push(((v4[0] ?? 0) << 8) | (v4[1] ?? 0), ((v4[2] ?? 0) << 8) | (v4[3] ?? 0));
    text = text.slice(0, lastColon + 1);
    if (!text.endsWith('::')) text = text.slice(0, -1);
  }
  const [head = '', rest] = text.split('::');
  const groupsOf = (part: string): number[] => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const left = groupsOf(head);
  const right = [...(rest === undefined ? [] : groupsOf(rest)), ...tail];
  const zeros = 8 - left.length - right.length;
  const groups = rest === undefined ? [...left, ...right] : [...left, ...new Array<number>(zeros).fill(0), ...right];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

/**
 * Parses "10.0.0.0/8", "fd00::/8", or a bare IP (a /32 or /128). Host bits must be zero:
 * "10.0.0.1/8" is refused with the network it probably meant, since silently widening or
 * narrowing an allowlist is worse than asking.
 */
export function parseCidr(s: string): Parsed<Cidr> {
  const slash = s.indexOf('/');
  const address = (slash === -1 ? s : s.slice(0, slash)).toLowerCase();
  const bytes = ipBytes(address);
  if (bytes === undefined) return fail(`"${s}": expected a CIDR such as "10.0.0.0/8" or an IP address`);
  const bits = bytes.length * 8;
  let prefix = bits;
  if (slash !== -1) {
    const text = s.slice(slash + 1);
    if (!/^(?:0|[1-9][0-9]{0,2})$/.test(text) || Number(text) > bits) {
      return fail(`"${s}": prefix length must be an integer 0..${bits}`);
    }
    prefix = Number(text);
  }
  for (let bit = prefix; bit < bits; bit++) {
    if (((bytes[bit >> 3] ?? 0) >> (7 - (bit & 7))) & 1) {
      return fail(`"${s}": host bits are set; did you mean "${networkAddress(bytes, prefix)}/${prefix}"?`);
    }
  }
  return ok({ address, prefix, family: bytes.length === 4 ? 'ipv4' : 'ipv6' });
}

/** The network of `bytes` under `prefix` as text (host bits cleared; IPv6 compressed). */
export function networkAddress(bytes: Uint8Array, prefix: number): string {
  const net = bytes.map((b, i) => {
    const keep = Math.max(0, Math.min(8, prefix - i * 8));
    return b & (0xff << (8 - keep));
  });
  if (net.length === 4) return net.join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((net[i] ?? 0) << 8) | (net[i + 1] ?? 0)).toString(16));
  // RFC 5952 §4.2: compress the longest run of zero groups (good enough for a hint).
  return groups.join(':').replace(/(^|:)0(?::0)+(?::|$)/, '::');
}

/** True when both are IP literals that name the same address ("::" and "0::0" do). */
function sameIp(a: string, b: string): boolean {
  const x = ipBytes(a);
  const y = ipBytes(b);
  return x !== undefined && y !== undefined && x.length === y.length && x.every((v, i) => v === y[i]);
}

function isUnspecified(ip: string): boolean {
  const b = ipBytes(ip);
  return b !== undefined && b.every((v) => v === 0);
}

/**
 * True when binding both addresses would collide: the same non-zero port, and the same IP or an
 * unspecified address ("0.0.0.0", "::") of the other's family. "0.0.0.0" vs "::" is not counted
 * (whether they collide depends on the listener's ipv6Only setting).
 */
export function addressesOverlap(a: HostPort, b: HostPort): boolean {
  if (a.port !== b.port || a.port === 0) return false;
  if (sameIp(a.host, b.host)) return true;
  const fa = isIP(a.host);
  const fb = isIP(b.host);
  return fa === fb && fa !== 0 && (isUnspecified(a.host) || isUnspecified(b.host));
}
