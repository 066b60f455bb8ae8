// The only HTTP the forwarder writes: a one-line error response before closing a plain-HTTP
// connection it refuses (issue 7: 421 for a host not allowed, 400 malformed, 502 unreachable).

const REASONS: Readonly<Record<number, string>> = { 400: 'Bad Request', 421: 'Misdirected Request', 502: 'Bad Gateway' };

/** `HTTP/1.1 <status>` with a text/plain one-line body and Connection: close. */
export function httpErrorResponse(status: 400 | 421 | 502, message: string): Uint8Array {
  // The message may carry a client-chosen host name: keep it printable and on one line.
  const body = `${message.replace(/[^\x20-\x7e]/g, '?')}\n`;
  return Buffer.from(
    `HTTP/1.1 ${status} ${REASONS[status] ?? 'Error'}\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    'latin1',
  );
}
