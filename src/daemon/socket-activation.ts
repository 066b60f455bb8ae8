// systemd socket activation (sd_listen_fds(3)): the service manager binds the listening sockets
// and passes them as file descriptors 3, 4, ... with LISTEN_FDS, LISTEN_PID and, when the
// .socket unit names them (FileDescriptorName=), LISTEN_FDNAMES. The daemon then needs no
// privilege to bind :443 at all.
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server } from 'node:net';

/** sd_listen_fds(3): the first passed descriptor. */
export const SD_LISTEN_FDS_START = 3;

/** A listening socket handed over by systemd, already wrapped in a net.Server. */
export interface InheritedSocket {
  readonly fd: number;
  /** FileDescriptorName= from the .socket unit, or null when unnamed ("unknown" counts as unnamed). */
  readonly name: string | null;
  readonly server: Server;
  readonly bound: AddressInfo;
}

/**
 * Takes the sockets systemd passed to this process, if any, and removes the LISTEN_* variables
 * (as sd_listen_fds(1) does) so that nothing started later believes they are its own. Returns []
 * when the variables are absent or meant for another process (LISTEN_PID differs).
 */
export async function takeInheritedSockets(env: NodeJS.ProcessEnv = process.env): Promise<InheritedSocket[]> {
  const count = Number(env['LISTEN_FDS'] ?? '0');
  const pid = Number(env['LISTEN_PID'] ?? '0');
  const names = (env['LISTEN_FDNAMES'] ?? '').split(':');
  delete env['LISTEN_FDS'];
  delete env['LISTEN_PID'];
  delete env['LISTEN_FDNAMES'];
  if (!Number.isSafeInteger(count) || count <= 0 || pid !== process.pid) return [];
  const out: InheritedSocket[] = [];
  for (let i = 0; i < count; i++) {
    const fd = SD_LISTEN_FDS_START + i;
    const server = createServer({ allowHalfOpen: true, noDelay: true });
    const failed = once(server, 'error');
    server.listen({ fd });
    const first = await Promise.race([once(server, 'listening').then(() => null), failed.then(([err]) => err as Error)]);
    if (first !== null) throw new Error(`inherited file descriptor ${fd} is not a listening TCP socket: ${first.message}`, { cause: first });
    const raw = names[i];
    out.push({ fd, name: raw === undefined || raw === '' || raw === 'unknown' ? null : raw, server, bound: server.address() as AddressInfo });
  }
  return out;
}
