// The one host name syntax check (SPEC §3), for SNI, the HTTP Host and the config alike: a name
// the config could not allow is never routable, and a name the config allows always is. Pure.

/** RFC 1035 §2.3.4: at most 253 characters in presentation form, without the final dot. */
export const MAX_HOST_NAME_CHARS = 253;
const MAX_LABEL_CHARS = 63;

/** Why a string is not a host name; `detail` is the offending label or character. */
export type HostNameProblem =
  | { readonly problem: 'empty' }
  | { readonly problem: 'too_long' }
  | { readonly problem: 'empty_label' }
  | { readonly problem: 'label_too_long'; readonly detail: string }
  | { readonly problem: 'bad_character'; readonly detail: string }
  | { readonly problem: 'hyphen_at_label_edge'; readonly detail: string }
  | { readonly problem: 'ipv6_literal' }
  | { readonly problem: 'ipv4_literal'; readonly detail: string };

/** A checked host name (lowercase, without a trailing dot), or why it is not one. */
export type HostNameCheck = { readonly ok: true; readonly name: string } | ({ readonly ok: false } & HostNameProblem);

/**
 * Checks `text` as a DNS host name and normalises it: lowercase, one trailing dot (an absolute
 * name) dropped. The rule: RFC 1123 §2.1 LDH labels of 1 to 63 characters that neither start
 * nor end with a hyphen, at most 253 characters in all. Refused besides: IP literals, and any
 * name whose last label is a number. Underscores are refused: legal in DNS but not in a host
 * name, and no registry endpoint uses them. Wildcards are the config's business (`*.` is
 * checked there, before the rest of the pattern comes here).
 */
export function checkHostName(text: string): HostNameCheck {
  // SPEC §3: one trailing dot is tolerated and dropped. RFC 6066 §3 forbids it in SNI and Go
  // rejects it, but matching ignores it anyway, so refusing gains nothing.
  const n = text.endsWith('.') ? text.length - 1 : text.length;
  if (n === 0) return { ok: false, problem: 'empty' };
  if (n > MAX_HOST_NAME_CHARS) return { ok: false, problem: 'too_long' };
  let start = 0; // of the current label
  for (let i = 0; i <= n; i++) {
    const c = i === n ? 0x2e : text.charCodeAt(i);
    if (c === 0x2e) {
      if (i === start) return { ok: false, problem: 'empty_label' };
      const label = text.slice(start, i);
      if (label.length > MAX_LABEL_CHARS) return { ok: false, problem: 'label_too_long', detail: label };
      if (label.startsWith('-') || label.endsWith('-')) return { ok: false, problem: 'hyphen_at_label_edge', detail: label };
      start = i + 1;
    } else if (c === 0x3a) {
      // RFC 6066 §3: literal IPv6 addresses are not permitted in HostName.
      return { ok: false, problem: 'ipv6_literal' };
    } else if (!isLetterDigitHyphen(c)) {
      return { ok: false, problem: 'bad_character', detail: text.charAt(i) };
    }
  }
  const name = text.slice(0, n).toLowerCase();
  // RFC 6066 §3: literal IPv4 addresses are not permitted. Like the WHATWG URL host parser, treat
  // any name whose last label is a number as an address: inet_aton reads "127.1" and "0x7f.1"
  // as IPv4 too, so this is stricter than a dotted quad on purpose (and RFC 3696 §2 says a
  // top-level label is never all digits).
  const last = name.slice(name.lastIndexOf('.') + 1);
  if (/^(?:\d+|0x[0-9a-f]*)$/.test(last)) return { ok: false, problem: 'ipv4_literal', detail: last };
  return { ok: true, name };
}

/** A checked SNI host name, or why it cannot be used (worded for the access line). */
export type Normalised = { ok: true; name: string } | { ok: false; error: string };

/** checkHostName on the raw bytes of a TLS HostName (RFC 6066 §3), errors worded for SNI. */
export function normaliseHostName(raw: Uint8Array): Normalised {
  // Longer than any host name even with its trailing dot: refused before decoding it.
  if (raw.length > MAX_HOST_NAME_CHARS + 1) return { ok: false, error: 'server_name longer than 253 characters' };
  const checked = checkHostName(latin1(raw));
  return checked.ok ? checked : { ok: false, error: sniError(checked) };
}

function sniError(p: HostNameProblem): string {
  switch (p.problem) {
    case 'empty': return 'server_name is empty';
    case 'too_long': return 'server_name longer than 253 characters';
    case 'empty_label': return 'server_name has an empty label';
    case 'label_too_long': return 'server_name label longer than 63 characters';
    case 'bad_character': return 'server_name has a character other than a letter, digit, hyphen or dot';
    case 'hyphen_at_label_edge': return 'server_name has a label that starts or ends with a hyphen';
    case 'ipv6_literal': return 'server_name is an IPv6 address literal';
    case 'ipv4_literal': return 'server_name is an IPv4 address literal';
  }
}

function isLetterDigitHyphen(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x2d;
}

/** Bytes as a latin1 string. Callers pass at most 255 bytes (ALPN name, host name), so the spread is bounded. */
export function latin1(bytes: Uint8Array): string {
  return String.fromCharCode(...bytes);
}
