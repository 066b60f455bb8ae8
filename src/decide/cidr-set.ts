// Membership of IP addresses in a set of CIDR blocks (upstream_networks now, clients.allow
// later). Pure: built on config/address.ts's ipBytes, so decide/ needs no node:net.
import { ipBytes } from '../config/address.js';
import type { Cidr } from '../config/types.js';

interface Block {
  readonly bytes: Uint8Array;
  readonly prefix: number;
  /** Position of the CIDR in the constructor's list. */
  readonly index: number;
}

/** "::ffff:a.b.c.d" (IPv4-mapped, RFC 4291 §2.5.5.2) → the 4 IPv4 bytes; others unchanged. */
function unmapped(bytes: Uint8Array): Uint8Array {
  if (bytes.length !== 16) return bytes;
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return bytes;
  return bytes[10] === 0xff && bytes[11] === 0xff ? bytes.subarray(12) : bytes;
}

/** A CIDR as bytes; IPv4-mapped IPv6 blocks become IPv4 ones. Undefined if the address is not an IP. */
function toBlock(c: Cidr, index = -1): Block | undefined {
  const bytes = ipBytes(c.address);
  if (bytes === undefined) return undefined;
  const v4 = unmapped(bytes);
  // "::ffff:10.0.0.0/104" is 10.0.0.0/8 once unmapped.
  return { bytes: v4, prefix: v4.length < bytes.length ? Math.max(0, c.prefix - 96) : c.prefix, index };
}

function inBlock(addr: Uint8Array, block: Block): boolean {
  if (addr.length !== block.bytes.length) return false;
  const full = block.prefix >> 3;
  for (let i = 0; i < full; i++) if (addr[i] !== block.bytes[i]) return false;
  const rest = block.prefix & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((addr[full] ?? 0) & mask) === ((block.bytes[full] ?? 0) & mask);
}

/** A set of CIDR blocks; `has` answers whether an IP literal falls in any of them. */
export class CidrSet {
  readonly #blocks: readonly Block[];

  constructor(cidrs: readonly Cidr[]) {
    this.#blocks = cidrs.flatMap((c, i) => toBlock(c, i) ?? []);
  }

  get size(): number {
    return this.#blocks.length;
  }

  /** True when `address` (an IP literal; IPv4-mapped IPv6 counts as IPv4) is in a block. */
  has(address: string): boolean {
    const bytes = ipBytes(address);
    if (bytes === undefined) return false;
    const addr = unmapped(bytes);
    return this.#blocks.some((b) => inBlock(addr, b));
  }

  /**
   * The position (in the constructor's list) of the narrowest CIDR holding `address`, or -1 when
   * none does. CIDRs that share an address are nested, so the narrowest is the longest prefix.
   */
  narrowest(address: string): number {
    const bytes = ipBytes(address);
    if (bytes === undefined) return -1;
    const addr = unmapped(bytes);
    let best: Block | undefined;
    for (const b of this.#blocks) if (inBlock(addr, b) && (best === undefined || b.prefix > best.prefix)) best = b;
    return best?.index ?? -1;
  }

  /**
   * True when `address` is in a block of this set that lies wholly inside `outer` (as narrow as
   * `outer` or narrower): "127.0.0.1" with a set holding 127.0.0.0/8 is inside 127.0.0.0/8, but
   * with a set holding only 0.0.0.0/0 it is not.
   */
  hasInside(address: string, outer: Cidr): boolean {
    const bytes = ipBytes(address);
    const o = toBlock(outer);
    if (bytes === undefined || o === undefined) return false;
    const addr = unmapped(bytes);
    return this.#blocks.some((b) => b.prefix >= o.prefix && inBlock(addr, b) && inBlock(b.bytes, o));
  }
}
