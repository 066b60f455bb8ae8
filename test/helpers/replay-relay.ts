// A child process for test/relay/pipe.test.ts: runs one relay() on loopback sockets of the
// network namespace it was started in (the test starts it with `ip netns exec` in a namespace
// whose tcp_wmem/tcp_rmem are tiny, which a test cannot set per socket from Node) and prints
// one JSON line (ReplayResult).
//
// usage: node replay-relay.js HEAD_BYTES TAIL_BYTES user-buffers|streams IDLE_MS
//
// The relay replays HEAD_BYTES of patternChunk(…, 1) as its head, as the daemon replays what it
// read before routing; once the relay runs, the client sends TAIL_BYTES of patternChunk(…, 2)
// and its FIN. The backend reads everything until EOF, then ends its side too.
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { relay, type DataPath, type RelayEnd } from '../../src/relay/pipe.js';
import { patternChunk } from './origin.js';

/** What the child prints. */
export interface ReplayResult {
  /** RelayEnd kind. */
  readonly end: RelayEnd['kind'];
  /** Bytes the backend read before its EOF, and their SHA-256. */
  readonly bytes: number;
  readonly sha256: string;
  /** From relay() to the backend's EOF. */
  readonly ms: number;
}

async function listening(): Promise<{ server: Server; port: number }> {
  const server = createServer({ allowHalfOpen: true });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port };
}

async function main(): Promise<void> {
  const [headArg, tailArg, pathArg, idleArg] = process.argv.slice(2);
  const path: DataPath = pathArg === 'streams' ? 'streams' : 'user-buffers';
  const head = patternChunk(Number(headArg));
  const tail = patternChunk(Number(tailArg), 2);
  const front = await listening();
  const back = await listening();

  const frontAccepted = once(front.server, 'connection');
  const client = connect({ port: front.port, host: '127.0.0.1', allowHalfOpen: true });
  client.on('error', () => {});
  const [accepted] = (await frontAccepted) as [Socket];
  accepted.on('error', () => {});
  // As in the daemon: the intake has stopped reading when the relay takes over.
  accepted.pause();
  const backAccepted = once(back.server, 'connection');
  const upstream = connect({ port: back.port, host: '127.0.0.1', allowHalfOpen: true, noDelay: true });
  upstream.on('error', () => {});
  await once(upstream, 'connect');
  const [backend] = (await backAccepted) as [Socket];
  backend.on('error', () => {});

  const hash = createHash('sha256');
  let bytes = 0;
  backend.on('data', (c: Buffer) => {
    hash.update(c);
    bytes += c.length;
  });
  const backendEnded = once(backend, 'end');
  const t0 = performance.now();
  const ended = new Promise<RelayEnd>((resolve) => relay(accepted, upstream, head, Number(idleArg), resolve, path));
  client.end(tail);
  await backendEnded;
  const ms = performance.now() - t0;
  backend.end();
  client.resume();
  const end = await ended;
  const result: ReplayResult = { end: end.kind, bytes, sha256: hash.digest('hex'), ms: Math.round(ms) };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  for (const s of [client, backend]) s.destroy();
  front.server.close();
  back.server.close();
}

await main();
