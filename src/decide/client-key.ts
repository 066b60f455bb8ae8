// The key max_connections_per_client counts a client under. Pure: built on config/address.ts's
// ipBytes, so decide/ needs no node:net.
import { ipBytes } from '../config/address.js';

/**
 * The per-client key of `address` (an IP literal): an IPv4 address (also written IPv4-mapped,
 * "::ffff:a.b.c.d") is its own key; an IPv6 address is keyed by its network of `ipv6Prefix`
 * bits ("2001:db8:0:7::/64"), because one host usually holds a whole /64 and can pick a fresh
 * address for each connection. A zone identifier is ignored; anything that is not an IP
 * literal is returned unchanged.
 */
export function clientKey(address: string, ipv6Prefix: number): string {
  if (!address.includes(':')) return address; // IPv4 (or not an IP): no bytes to look at
  const zone = address.indexOf('%');
  const bytes = ipBytes(zone === -1 ? address : address.slice(0, zone));
  if (bytes === undefined) return address;
  if (bytes.length === 4) return address;
  if (isV4Mapped(bytes)) return bytes.subarray(12).join('.');
  const prefix = Math.max(0, Math.min(128, ipv6Prefix));
  for (let i = 0; i < 16; i++) {
    const keep = Math.max(0, Math.min(8, prefix - 8 * i));
    bytes[i] = (bytes[i] ?? 0) & ((0xff00 >> keep) & 0xff);
  }
  return `${formatIPv6(bytes)}/${prefix}`;
}

/** RFC 4291 §2.5.5.2: ::ffff:0:0/96. */
function isV4Mapped(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

/** The RFC 5952 text form of 16 bytes: lowercase, the longest run (2 or more) of zero groups as "::". */
function formatIPv6(b: Uint8Array): string {
  const groups = Array.from({ length: 8 }, (_, i) => ((b[2 * i] ?? 0) << 8) | (b[2 * i + 1] ?? 0));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best === -1) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}
