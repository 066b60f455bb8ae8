/**
 * Fixed-size read buffers for busy connections, kept for reuse up to `maxFree` so that a bulk
 * transfer does not map and unmap 256 KiB per burst, and so that memory held while idle stays
 * bounded (`maxFree` × `size`).
 */
export class BufferPool {
  readonly size: number;
  readonly #maxFree: number;
  readonly #free: Buffer[] = [];
  #inUse = 0;

  constructor(size: number, maxFree: number) {
    this.size = size;
    this.#maxFree = maxFree;
  }

  /** A buffer of `size` bytes with unspecified contents; give it back with `release`. */
  take(): Buffer {
    this.#inUse += 1;
    // allocUnsafeSlow: a buffer of its own, not a slice of Node's shared 8 KiB pool.
    return this.#free.pop() ?? Buffer.allocUnsafeSlow(this.size);
  }

  /** Returns a buffer from `take` once nothing (a queued write) refers to its bytes any more. */
  release(buffer: Buffer): void {
    this.#inUse -= 1;
    if (this.#free.length < this.#maxFree) this.#free.push(buffer);
  }

  /** Buffers taken and not yet released (for tests and diagnostics). */
  get inUse(): number {
    return this.#inUse;
  }
}
