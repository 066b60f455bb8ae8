// A bounds-checked cursor over untrusted bytes, modelled on Go's golang.org/x/crypto/cryptobyte
// String: every read checks the bounds first and moves forward only when it succeeds, so a
// failed read leaves the reader where it was and never throws. A length-prefixed read returns a
// child Reader over exactly that field, so a parser of the field cannot see past its end.

/**
 * The answer of an incremental parser given the bytes received so far.
 * `ok`: parsed; `consumed` bytes of the input belong to the parsed value, later bytes do not.
 * `need-more`: the outer framing is incomplete; call again with more bytes.
 * `invalid`: the input can never parse; close the connection with the matching outcome.
 */
export type ParseResult<T> =
  | { kind: 'ok'; value: T; consumed: number }
  | { kind: 'need-more' }                  // outer framing incomplete: wait for more bytes
  | { kind: 'invalid'; reason: string };   // close with the matching outcome

/** A forward-only view of a byte array; reads return undefined (and do not move) on short input. */
export class Reader {
  readonly #b: Uint8Array;
  #i = 0;

  constructor(b: Uint8Array) {
    this.#b = b;
  }

  /** True when every byte has been read. */
  get empty(): boolean {
    return this.#i === this.#b.length;
  }

  /** Bytes not read yet. */
  get remaining(): number {
    return this.#b.length - this.#i;
  }

  // The only place the cursor moves: all reads go through here.
  #take(n: number): Uint8Array | undefined {
    if (!Number.isSafeInteger(n) || n < 0 || this.#b.length - this.#i < n) return undefined;
    return this.#b.subarray(this.#i, (this.#i += n));
  }

  // Big-endian unsigned integer of `n` bytes (n <= 3, so it stays exact in a number).
  #uint(n: 1 | 2 | 3): number | undefined {
    const b = this.#take(n);
    return b && b.reduce((v, x) => v * 256 + x, 0);
  }

  /** One byte, or undefined at the end. */
  u8(): number | undefined {
    return this.#uint(1);
  }

  /** A big-endian uint16, or undefined (not moving) if fewer than 2 bytes remain. */
  u16(): number | undefined {
    return this.#uint(2);
  }

  /** A big-endian uint24, or undefined (not moving) if fewer than 3 bytes remain. */
  u24(): number | undefined {
    return this.#uint(3);
  }

  /** The next `n` bytes as a view (not a copy), or undefined (not moving) if fewer remain. */
  bytes(n: number): Uint8Array | undefined {
    return this.#take(n);
  }

  /**
   * A field prefixed by its length in `lenBytes` big-endian bytes, as a child Reader bounded to
   * the field; undefined (not moving, not even past the length) if the field is cut short.
   */
  prefixed(lenBytes: 1 | 2 | 3): Reader | undefined {
    const start = this.#i;
    const len = this.#uint(lenBytes);
    const body = len === undefined ? undefined : this.#take(len);
    if (body === undefined) {
      this.#i = start;
      return undefined;
    }
    return new Reader(body);
  }
}
