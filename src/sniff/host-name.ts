// The SNI host name check (RFC 6066 §3, SPEC §3): pure, on the raw bytes of a HostName.

const MAX_HOST_NAME_CHARS = 253; // RFC 1035 §2.3.4, in presentation form without the final dot
const MAX_LABEL_CHARS = 63;

/** A checked SNI host name, or why it cannot be used. */
export type Normalised = { ok: true; name: string } | { ok: false; error: string };

/**
 * Checks a HostName as a DNS host name and lowercases it (SPEC §3, STYLE §4). Lenient where
 * registries are not affected: a label may start or end with a hyphen.
 */
export function normaliseHostName(raw: Uint8Array): Normalised {
  // One trailing dot (an absolute name) is tolerated and dropped: SPEC §3. RFC 6066 §3 forbids
  // it on the wire and Go rejects it, but matching ignores it anyway, so refusing gains nothing.
  const n = raw[raw.length - 1] === 0x2e ? raw.length - 1 : raw.length;
  if (n === 0) return { ok: false, error: 'server_name is empty' };
  if (n > MAX_HOST_NAME_CHARS) return { ok: false, error: 'server_name longer than 253 characters' };
  let label = 0;
  for (let i = 0; i < n; i++) {
    const c = raw[i] ?? 0;
    if (c === 0x2e) {
      if (label === 0) return { ok: false, error: 'server_name has an empty label' };
      label = 0;
    } else if (isLetterDigitHyphen(c)) {
      if (++label > MAX_LABEL_CHARS) return { ok: false, error: 'server_name label longer than 63 characters' };
    } else if (c === 0x3a) {
      // RFC 6066 §3: literal IPv6 addresses are not permitted in HostName.
      return { ok: false, error: 'server_name is an IPv6 address literal' };
    } else {
      // Only LDH (RFC 1123 §2.1). Underscore is rejected on purpose: it is legal in DNS but not
      // in a host name, no registry endpoint uses it, and a config pattern could never match it.
      return { ok: false, error: 'server_name has a character other than a letter, digit, hyphen or dot' };
    }
  }
  if (label === 0) return { ok: false, error: 'server_name has an empty label' };
  const name = latin1(raw.subarray(0, n)).toLowerCase();
  // RFC 6066 §3: literal IPv4 addresses are not permitted. Like the WHATWG URL host parser, treat
  // any name whose last label is a number as an address: inet_aton reads "127.1" and
  // "0x7f.1" as IPv4 too, so this is stricter than a dotted quad on purpose.
  if (/(?:^|\.)(?:\d+|0x[0-9a-f]*)$/.test(name)) return { ok: false, error: 'server_name is an IPv4 address literal' };
  return { ok: true, name };
}

function isLetterDigitHyphen(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x2d;
}

/** Bytes as a latin1 string. Callers pass at most 255 bytes (ALPN name, host name), so the spread is bounded. */
export function latin1(bytes: Uint8Array): string {
  return String.fromCharCode(...bytes);
}
