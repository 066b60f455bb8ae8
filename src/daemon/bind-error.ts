// Why a listening address could not be bound, with what to do about it (issue #16). Pure.
import { errorCode } from '../errors.js';

/** Ports below this need CAP_NET_BIND_SERVICE (Linux's default net.ipv4.ip_unprivileged_port_start). */
const FIRST_UNPRIVILEGED_PORT = 1024;

/**
 * The one-sentence reason `address` ("0.0.0.0:443", the metrics address, ...) could not be
 * bound: the error code, then for the common codes the fix ("EACCES: ports below 1024 need
 * privilege; ..."). `port` decides whether EACCES is the privileged-port rule.
 */
export function bindFailure(what: string, port: number, err: unknown): string {
  const code = errorCode(err);
  const head = `cannot listen on ${what}: ${code}`;
  switch (code) {
    case 'EACCES':
      if (port === 0 || port >= FIRST_UNPRIVILEGED_PORT) return head;
      return `${head}: ports below ${FIRST_UNPRIVILEGED_PORT} need privilege; run it as the systemd unit (sni-forwarder.service ` +
        'grants CAP_NET_BIND_SERVICE), use socket activation (sni-forwarder.socket binds the port), or grant node ' +
        'CAP_NET_BIND_SERVICE (setcap cap_net_bind_service=+ep "$(readlink -f "$(command -v node)")")';
    case 'EADDRINUSE':
      return `${head}: another process listens there (ss -ltnp 'sport = :${port}' shows which)`;
    case 'EADDRNOTAVAIL':
      return `${head}: no interface of this host has that address (ip -brief address lists them)`;
    default:
      return head;
  }
}
