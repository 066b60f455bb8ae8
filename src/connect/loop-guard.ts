import { networkInterfaces } from 'node:os';
import { isIPv4 } from 'node:net';
import { ipBytes, unmapIPv4 } from '../config/address.js';

/** A bound listening socket. */
export interface BoundAddress {
  readonly address: string;
  readonly port: number;
}

/** Only these characters can spell an all-zero address once unmapped ("::", "0.0.0.0", "0::0"). */
const ZERO_SPELLING = /^[0:.]+$/;

/** 0.0.0.0 or :: in any spelling ("0::0", "::ffff:0.0.0.0"). */
function isUnspecified(address: string): boolean {
  const unmapped = unmapIPv4(address);
  // Checked once per connection: most addresses are ruled out without parsing them (issue #18).
  if (!ZERO_SPELLING.test(unmapped)) return false;
  const b = ipBytes(unmapped);
  return b !== undefined && b.every((v) => v === 0);
}

/**
 * Builds the loop guard: true when `address:port` would reach one of `bound` listeners, so a
 * name that resolves (or is configured) back to the forwarder is refused instead of looping.
 * A wildcard listener (0.0.0.0 or ::) owns the port on every local address: the interface
 * addresses read now and all of 127.0.0.0/8 (Linux answers on the whole loopback range).
 * The unspecified address (0.0.0.0, ::) is this host (Linux connects it to loopback), so it
 * counts as the forwarder's own on every listener's port, whatever address that listener binds.
 */
export function ownAddressChecker(bound: readonly BoundAddress[]): (address: string, port: number) => boolean {
  const exact = new Set(bound.filter((b) => !isUnspecified(b.address)).map((b) => `${unmapIPv4(b.address)}|${b.port}`));
  const wildcardPorts = new Set(bound.filter((b) => isUnspecified(b.address)).map((b) => b.port));
  const ports = new Set(bound.map((b) => b.port));
  const local = new Set<string>(['::1']);
  for (const list of Object.values(networkInterfaces())) {
    for (const i of list ?? []) local.add(unmapIPv4(i.address));
  }
  return (address, port) => {
    const a = unmapIPv4(address);
    if (exact.has(`${a}|${port}`)) return true;
    if (isUnspecified(a)) return ports.has(port);
    if (!wildcardPorts.has(port)) return false;
    return local.has(a) || (isIPv4(a) && a.startsWith('127.'));
  };
}
