// Which addresses a DNS answer may send a connection to (SPEC §3, upstream_networks): the
// upstream_networks filter and the special-purpose blocks (RFC 6890, the clouds' metadata
// services) that only an explicit upstream_networks entry opens. Pure: built on cidr-set.ts, so decide/ needs no node:net.
import { ipBytes, networkAddress, parseCidr } from '../config/address.js';
import type { Cidr } from '../config/types.js';
import { CidrSet } from './cidr-set.js';

/** What a special-purpose block is, as the refusal reason names it. */
export type SpecialKind = 'unspecified' | 'loopback' | 'link-local' | 'cloud metadata' | 'multicast' | 'broadcast';

/** A block of special-purpose addresses a DNS answer may not pick by itself. */
export interface SpecialBlock {
  readonly kind: SpecialKind;
  readonly cidr: Cidr;
  /** "127.0.0.0/8", for messages. */
  readonly text: string;
}

/** A CIDR written in this file (a constant: a bad one is a bug). */
function cidr(text: string): Cidr {
  const parsed = parseCidr(text);
  if (!parsed.ok) throw new Error(`special-addresses: ${parsed.reason}`);
  return parsed.value;
}

function block(kind: SpecialKind, text: string): SpecialBlock {
  return { kind, cidr: cidr(text), text };
}

/**
 * The special-purpose blocks. Where two hold one address the narrower decides (an entry must lie
 * inside it), so 169.254.0.0/16 in upstream_networks opens link-local but not the metadata
 * service, and 100.64.0.0/10 (shared address space, RFC 6598; ordinary here) never opens
 * 100.100.100.200. IPv4-mapped IPv6 forms ("::ffff:127.0.0.1") count as their IPv4 address.
 */
export const SPECIAL_BLOCKS: readonly SpecialBlock[] = [
  // RFC 6890 §2.2.2 "this host on this network": a connect to 0.0.0.0 reaches this very host.
  block('unspecified', '0.0.0.0/8'),
  block('unspecified', '::/128'),
  block('loopback', '127.0.0.0/8'),
  block('loopback', '::1/128'),
  block('link-local', '169.254.0.0/16'),
  block('link-local', 'fe80::/10'),
  // AWS, GCP, Azure, OpenStack and others serve instance metadata (and credentials) here.
  block('cloud metadata', '169.254.169.254/32'),
  // AWS IMDS over IPv6: a ULA (fc00::/7), not link-local, so only the exact address is special.
  block('cloud metadata', 'fd00:ec2::254/128'),
  // Alibaba Cloud ECS metadata, inside the shared address space 100.64.0.0/10.
  block('cloud metadata', '100.100.100.200/32'),
  block('multicast', '224.0.0.0/4'),
  block('multicast', 'ff00::/8'),
  block('broadcast', '255.255.255.255/32'),
];

const SPECIAL_SET = new CidrSet(SPECIAL_BLOCKS.map((b) => b.cidr));

/**
 * IPv6 prefixes whose addresses carry an IPv4 address that a NAT64 gateway or a 6to4 relay
 * connects to: the IPv4 special-purpose blocks apply inside them too, or a hostile DNS server
 * could answer 64:ff9b::a9fe:a9fe for 169.254.169.254 on an IPv6-only subnet with NAT64. `at`
 * is the byte where the IPv4 address starts: both prefixes fix it. Not screened: RFC 8215's
 * local-use NAT64 prefix 64:ff9b:1::/48, where the operator picks the translation prefix length
 * and so where the IPv4 address sits (reading it in the wrong place would refuse ordinary
 * answers); IPv4-compatible ::a.b.c.d, deprecated and not translated by Linux without a
 * configured sit tunnel.
 */
interface Embedding {
  readonly name: string;
  readonly text: string;
  readonly at: number;
}

const EMBEDDINGS: readonly Embedding[] = [
  { name: 'NAT64', text: '64:ff9b::/96', at: 12 }, // RFC 6052's well-known prefix
  { name: '6to4', text: '2002::/16', at: 2 }, // RFC 3056: 2002:WWXX:YYZZ::/48
];

const EMBEDDED_SET = new CidrSet(EMBEDDINGS.map((e) => cidr(e.text)));

/** The IPv6 prefixes inside which the IPv4 blocks apply too, as `route` lists them. */
export const EMBEDDED_IN = EMBEDDINGS.map((e) => `${e.name} ${e.text}`).join(', ');

/**
 * The IPv4 block `inner` as it appears inside `e`: the IPv6 CIDR of every address of `e` that
 * carries an address of `inner`, so that only an upstream_networks entry within it opens it.
 */
function embeddedBlock(e: Embedding, inner: SpecialBlock, bytes: Uint8Array): SpecialBlock {
  const outer = Uint8Array.from(bytes);
  outer.set(ipBytes(inner.cidr.address) ?? new Uint8Array(4), e.at);
  const prefix = e.at * 8 + inner.cidr.prefix;
  return {
    kind: inner.kind,
    cidr: { address: networkAddress(outer, prefix), prefix, family: 'ipv6' },
    text: `${inner.text} inside ${e.name} ${e.text}`,
  };
}

/**
 * The narrowest special-purpose block holding `address` (a zone id is ignored), or undefined.
 * For a NAT64 or 6to4 address it is the block of the IPv4 address inside, as an IPv6 block.
 */
export function specialBlockOf(address: string): SpecialBlock | undefined {
  const zone = address.indexOf('%');
  const bare = zone === -1 ? address : address.slice(0, zone);
  const i = SPECIAL_SET.narrowest(bare);
  if (i !== -1) return SPECIAL_BLOCKS[i];
  const e = EMBEDDINGS[EMBEDDED_SET.narrowest(bare)];
  const bytes = ipBytes(bare);
  if (e === undefined || bytes === undefined) return undefined;
  const b = SPECIAL_BLOCKS[SPECIAL_SET.narrowest(bytes.subarray(e.at, e.at + 4).join('.'))];
  return b === undefined ? undefined : embeddedBlock(e, b, bytes);
}

/**
 * True when an upstream_networks entry opens `block`: the entry lies inside it (127.0.0.1/32 and
 * 127.0.0.0/8 open loopback; 0.0.0.0/0 does not).
 */
export function entryOpens(entry: Cidr, block: SpecialBlock): boolean {
  return new CidrSet([entry]).hasInside(entry.address, block.cidr);
}

/** Result of screenAnswers: the addresses that may be dialled, or why none may. */
export type Screened =
  | { readonly ok: true; readonly addresses: readonly string[] }
  | { readonly ok: false; readonly reason: string };

/** How many addresses a refusal names at most (a hostile DNS server can answer many). */
const MAX_NAMED = 4;

/** The rule, as refusal reasons and `route` state it. */
export const SPECIAL_RULE = 'loopback, unspecified, link-local, cloud metadata, multicast and broadcast addresses '
  + '(IPv4 ones also inside NAT64 and 6to4 addresses) are refused unless an upstream_networks entry within their block lists them';

/**
 * Screens the addresses DNS gave for `host`, an upstream named by DNS (not an IP literal: those
 * are the operator's own choice and never screened). Keeps, in order, the addresses inside
 * `upstreamNetworks` (null = not set, any) that are not special-purpose, or that are but an
 * upstream_networks entry inside their block holds them. ok with those, or, when none is left,
 * a reason naming each refused address and the rule that refused it.
 */
export function screenAnswers(host: string, addresses: readonly string[], upstreamNetworks: CidrSet | null): Screened {
  const kept: string[] = [];
  const refused: string[] = [];
  let special = false;
  for (const a of addresses) {
    const b = specialBlockOf(a);
    if (upstreamNetworks !== null && !upstreamNetworks.has(a)) {
      refused.push(`${a} (outside upstream_networks)`);
    } else if (b !== undefined && upstreamNetworks?.hasInside(a, b.cidr) !== true) {
      special = true;
      refused.push(`${a} (${b.kind} ${b.text})`);
    } else {
      kept.push(a);
    }
  }
  if (kept.length > 0) return { ok: true, addresses: kept };
  const named = refused.length > MAX_NAMED
    ? [...refused.slice(0, MAX_NAMED), `${refused.length - MAX_NAMED} more`]
    : refused;
  return { ok: false, reason: `${host} resolves to ${named.join(', ')}${special ? `: ${SPECIAL_RULE}` : ''}` };
}
