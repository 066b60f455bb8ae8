// The ListenStream= lines of a systemd .socket unit, read so that `check --unit` can compare them
// with the config's `listen` entries before systemd and the daemon disagree at start (issue #16:
// a socket unit on 0.0.0.0:443 with a config on 127.0.0.1:8443 left :443 dead). Pure: unit text
// in, addresses and problems out. systemd.socket(5) and systemd.syntax(7) describe the format.
import { isIP } from 'node:net';
import { formatHostPort, ipBytes, parsePort } from './address.js';
import type { HostPort, ListenerConfig } from './types.js';

/** One ListenStream= address in force (after any empty assignment reset the list). */
export interface ListenStream {
  /** 1-based line of the assignment. */
  readonly line: number;
  /** The value as written. */
  readonly value: string;
  /**
   * The TCP address systemd binds, as the daemon sees it bound; a bare port is "[::]:PORT"
   * (systemd binds the IPv6 wildcard, dual-stack unless BindIPv6Only=ipv6-only). Null for
   * what is not TCP over IP (a path, "@abstract", "vsock:").
   */
  readonly address: HostPort | null;
}

/** Reads the ListenStream= lines of the [Socket] section, honouring comments, continuations and resets. */
export function readListenStreams(text: string): ListenStream[] {
  let out: ListenStream[] = [];
  let section = '';
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let line = lines[i] ?? '';
    // systemd.syntax(7): a line ending in "\" continues on the next one.
    while (line.endsWith('\\') && i + 1 < lines.length) line = `${line.slice(0, -1)} ${lines[++i] ?? ''}`;
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith(';')) continue;
    if (trimmed.startsWith('[')) {
      section = trimmed;
      continue;
    }
    const eq = trimmed.indexOf('=');
    if (section !== '[Socket]' || eq === -1 || trimmed.slice(0, eq).trim() !== 'ListenStream') continue;
    const value = trimmed.slice(eq + 1).trim();
    // An empty assignment clears the list built so far (drop-ins use it to replace it).
    if (value === '') out = [];
    else out.push({ line: start + 1, value, address: streamAddress(value) });
  }
  return out;
}

/** The TCP address a ListenStream= value binds, or null when it is not one. */
function streamAddress(value: string): HostPort | null {
  const port = parsePort(value);
  if (port !== undefined) return { host: '::', port };
  const m = /^(?:\[([^\]]+)\]|([0-9.]+)):(\d+)$/.exec(value);
  const host = m?.[1] ?? m?.[2];
  const p = parsePort(m?.[3] ?? '');
  if (host === undefined || p === undefined) return null;
  const bare = host.split('%')[0] ?? host; // a zone ("fe80::1%eth0") is not part of the bound address
  return isIP(bare) === 0 ? null : { host: bare, port: p };
}

/** Whether two IP literals with ports are the same socket address (IPv6 spellings compared as bytes). */
export function sameSocketAddress(a: HostPort, b: HostPort): boolean {
  if (a.port !== b.port) return false;
  const x = ipBytes(a.host);
  const y = ipBytes(b.host);
  return x !== undefined && y !== undefined && x.length === y.length && x.every((v, i) => v === y[i]);
}

/** What `check --unit` found: sockets without a listener (errors) and listeners without a socket (warnings). */
export interface UnitComparison {
  /** Each ListenStream with the listen entry it goes to. */
  readonly matched: readonly { readonly stream: ListenStream; readonly listener: string }[];
  /** Sockets the daemon would refuse at start, with the reason. */
  readonly errors: readonly { readonly stream: ListenStream; readonly message: string }[];
  /** Listeners that systemd does not bind: the daemon binds them itself. */
  readonly warnings: readonly string[];
}

/** Compares a unit's ListenStream= addresses with the config's listeners, as the daemon will at start. */
export function compareUnit(streams: readonly ListenStream[], listen: readonly ListenerConfig[]): UnitComparison {
  const listeners = listen.map((l) => formatHostPort(l.address)).join(', ');
  const matched: { stream: ListenStream; listener: string }[] = [];
  const errors: { stream: ListenStream; message: string }[] = [];
  const covered = new Set<number>();
  for (const stream of streams) {
    if (stream.address === null) {
      errors.push({ stream, message: `ListenStream=${stream.value} is not a TCP address; the forwarder takes TCP sockets only` });
      continue;
    }
    const address = stream.address;
    const i = listen.findIndex((l) => sameSocketAddress(l.address, address));
    if (i === -1) {
      const bare = parsePort(stream.value) !== undefined ? ` (a bare port is bound as ${formatHostPort(address)})` : '';
      errors.push({
        stream,
        message: `ListenStream=${stream.value}${bare} matches no listen entry (${listeners}): the daemon would refuse to start; ` +
          `add { address: "${formatHostPort(address)}" } to listen, or change ListenStream= to a listen address`,
      });
      continue;
    }
    covered.add(i);
    matched.push({ stream, listener: formatHostPort(listen[i]?.address ?? address) });
  }
  const warnings = listen.flatMap((l, i) => covered.has(i) ? [] : [
    `listen ${formatHostPort(l.address)} has no ListenStream= in the unit: the daemon binds it itself` +
      (l.address.port < 1024 && l.address.port !== 0 ? ', which needs CAP_NET_BIND_SERVICE for a port below 1024' : ''),
  ]);
  return { matched, errors, warnings };
}
