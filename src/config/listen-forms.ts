// Listener addresses as nginx and HAProxy spell them (`listen 443;`, `bind :443`, `bind *:443`),
// recognised so that the error says what to write instead (issue #16). Pure.

/**
 * For an address written without an IP (":443", "*:443", "443", or the number 443), the
 * `host:port` to write with `host`; undefined for anything else.
 */
export function bareAddressFix(value: unknown, host: string): string | undefined {
  const text = typeof value === 'number' && Number.isInteger(value) ? String(value) : value;
  if (typeof text !== 'string') return undefined;
  const m = /^\s*\*?:?(\d{1,5})\s*$/.exec(text);
  return m === null ? undefined : `${host}:${m[1]}`;
}

/** The hint after a bare listener address: the IPv4 and IPv6 wildcards, written out. */
export function bareListenHint(written: string, fix: string): string {
  const port = fix.slice(fix.lastIndexOf(':') + 1);
  return `${written} has no IP address (nginx's "listen ${port}" and HAProxy's "bind :${port}" mean every address); ` +
    `write "${fix}" for every IPv4 address, and add "[::]:${port}" for IPv6`;
}

/** The list form of `listen` for a listener written as a bare value: `[{ address: "0.0.0.0:443" }]`. */
export function listenListForm(address: string): string {
  return `listen: [{ address: "${address}" }] (a list: one "- address:" entry per listener)`;
}
