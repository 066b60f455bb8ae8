import { networkInterfaces } from 'node:os';
import { isIPv4 } from 'node:net';

/** A bound listening socket. */
export interface BoundAddress {
  readonly address: string;
  readonly port: number;
}

/** "::ffff:10.0.0.1" → "10.0.0.1", so that IPv4 addresses compare equal in either form. */
function unmap(address: string): string {
  const lower = address.toLowerCase();
  return lower.startsWith('::ffff:') && isIPv4(lower.slice(7)) ? lower.slice(7) : lower;
}

function isUnspecified(address: string): boolean {
  return address === '0.0.0.0' || address === '::';
}

/**
 * Builds the loop guard: true when `address:port` would reach one of `bound` listeners, so a
 * name that resolves (or is configured) back to the forwarder is refused instead of looping.
 * A wildcard listener (0.0.0.0 or ::) owns the port on every local address: the interface
 * addresses read now and all of 127.0.0.0/8 (Linux answers on the whole loopback range).
 */
export function ownAddressChecker(bound: readonly BoundAddress[]): (address: string, port: number) => boolean {
  const exact = new Set(bound.filter((b) => !isUnspecified(b.address)).map((b) => `${unmap(b.address)}|${b.port}`));
  const wildcardPorts = new Set(bound.filter((b) => isUnspecified(b.address)).map((b) => b.port));
  const local = new Set<string>(['::1']);
  for (const list of Object.values(networkInterfaces())) {
    for (const i of list ?? []) local.add(unmap(i.address));
  }
  return (address, port) => {
    const a = unmap(address);
    if (exact.has(`${a}|${port}`)) return true;
    if (!wildcardPorts.has(port)) return false;
    return local.has(a) || (isIPv4(a) && a.startsWith('127.'));
  };
}
