import { Socket } from 'node:net';

/**
 * Reads a socket into buffers of our choosing instead of a fresh allocation per read.
 *
 * Node has this as the `onread` option of `net.connect` and `new net.Socket`, but Node 20 gives
 * no way to set it on a socket that a `net.Server` accepted, which is every client socket here.
 * No library does it either, so it is done by hand: the option only fills three private slots
 * on the socket (found here by their symbol descriptions, which is the fragile part) and calls
 * the handle's `useUserBuffer`. When any of that is missing (another Node version), `available`
 * is false and the relay uses its portable stream path instead.
 *
 * Once installed, Node calls `onRead(nread, buffer)` for each read (returning false stops
 * reading, as in `onread.callback`), then `next()` for the buffer the following read goes into.
 * pause() and resume() stop and restart reads at the handle; EOF still emits 'end'.
 */
interface Slots {
  readonly buffer: symbol;
  readonly callback: symbol;
  readonly generator: symbol;
}

interface HandleWithUserBuffer {
  useUserBuffer?: (buffer: Uint8Array) => void;
}

function findSlots(): Slots | null {
  const probe = new Socket();
  const symbols = Object.getOwnPropertySymbols(probe);
  probe.destroy();
  const find = (description: string): symbol | undefined => symbols.find((s) => s.description === description);
  const buffer = find('kBuffer');
  const callback = find('kBufferCb');
  const generator = find('kBufferGen');
  return buffer === undefined || callback === undefined || generator === undefined ? null : { buffer, callback, generator };
}

const SLOTS = findSlots();

/** True when this Node exposes what `readIntoUserBuffers` needs (checked once at load). */
export const userBuffersAvailable = SLOTS !== null;

function handleOf(socket: Socket): HandleWithUserBuffer | null {
  return (socket as unknown as { _handle?: HandleWithUserBuffer | null })._handle ?? null;
}

/** True when `readIntoUserBuffers` can switch this socket (this Node, an open stream handle). */
export function canReadIntoUserBuffers(socket: Socket): boolean {
  return SLOTS !== null && typeof handleOf(socket)?.useUserBuffer === 'function';
}

/**
 * Switches a connected socket to user-buffer reads (see above); `canReadIntoUserBuffers` must
 * have said yes. Bytes the socket had already read stay in its readable buffer: the caller
 * drains them with `socket.read()`.
 */
export function readIntoUserBuffers(
  socket: Socket,
  first: Buffer,
  onRead: (nread: number, buffer: Buffer) => boolean,
  next: () => Buffer,
): void {
  const handle = handleOf(socket);
  if (SLOTS === null || handle?.useUserBuffer === undefined) throw new Error('readIntoUserBuffers: not supported for this socket');
  const slots = socket as unknown as Record<symbol, unknown>;
  slots[SLOTS.buffer] = first;
  slots[SLOTS.callback] = onRead;
  slots[SLOTS.generator] = next;
  handle.useUserBuffer(first);
}
