// A byte buffer that chunks are appended to, for the intake's PROXY header and HTTP head. Pure.

/**
 * Appends chunks with amortised doubling, so that n bytes arriving in any number of chunks cost
 * O(n) copying (joining all chunks again on every chunk costs O(n²)). A single chunk is kept by
 * reference and not copied at all, which is the common case: the whole header in one read.
 */
export class GrowableBuffer {
  readonly #capBytes: number;
  #store: Buffer = Buffer.alloc(0);
  #length = 0;
  /** True while #store is the caller's first chunk, which must not be written into. */
  #borrowed = false;
  #copiedBytes = 0;

  /** Doubling stops at `capBytes` (what the parser can use); past it, storage grows as needed. */
  constructor(capBytes = Infinity) {
    this.#capBytes = capBytes;
  }

  /** Makes room for `totalBytes` in all, when the final size becomes known (one copy, no doubling). */
  reserve(totalBytes: number): void {
    if (this.#length > 0 && (this.#borrowed || totalBytes > this.#store.length)) this.#grow(totalBytes);
  }

  /** Appends `chunk`. A first chunk is kept by reference: do not modify it afterwards. */
  append(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.#length === 0) {
      this.#store = chunk;
      this.#length = chunk.length;
      this.#borrowed = true;
      return;
    }
    const needed = this.#length + chunk.length;
    if (this.#borrowed || needed > this.#store.length) {
      this.#grow(Math.max(needed, Math.min(2 * this.#store.length, this.#capBytes)));
    }
    chunk.copy(this.#store, this.#length);
    this.#copiedBytes += chunk.length;
    this.#length = needed;
  }

  #grow(capacity: number): void {
    const grown = Buffer.allocUnsafe(Math.max(capacity, this.#length));
    this.#store.copy(grown, 0, 0, this.#length);
    this.#copiedBytes += this.#length;
    this.#store = grown;
    this.#borrowed = false;
  }

  /** Bytes appended so far. */
  get length(): number {
    return this.#length;
  }

  /** The bytes appended so far: a view whose bytes later appends never change. */
  get bytes(): Buffer {
    return this.#store.subarray(0, this.#length);
  }

  /** Bytes copied so far, growing included: at most 3 × length (a measure of the work done). */
  get copiedBytes(): number {
    return this.#copiedBytes;
  }
}
