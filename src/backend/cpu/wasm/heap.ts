/**
 * The WebAssembly backend's device memory: one WebAssembly.Memory holding every buffer, so that
 * the kernels address them directly. A first-fit allocator over a free list (ranges merged on
 * release) hands out 64-byte aligned ranges (a cache line, so that vector loads of a row never
 * straddle one more than they must) and grows the memory when none fits.
 *
 * Growing replaces `memory.buffer`: every typed array over the old one is detached. `generation`
 * counts growths, so that a compiled program rebuilds its views only when it changed.
 */

const PAGE = 65536;
const ALIGN = 64;
/** wasm32 addresses 4 GiB; the memory cannot grow past this many pages. */
const MAX_PAGES = 65536;

interface Range {
  offset: number;
  size: number;
}

export class WasmHeap {
  readonly memory: WebAssembly.Memory;
  /** Incremented each time the memory grows (and the views over it detach). */
  generation = 0;
  private readonly free: Range[] = [];
  private readonly sizes = new Map<number, number>();
  /** End of the highest range ever handed out; everything above is free. Address 0 stays unused. */
  private top = ALIGN;

  constructor(initialBytes = 16 * PAGE) {
    this.memory = new WebAssembly.Memory({ initial: Math.ceil(initialBytes / PAGE) });
  }

  /** The memory's bytes now (replaced by a growth). */
  get bytes(): ArrayBuffer {
    return this.memory.buffer;
  }

  /** Bytes handed out and not released, and the top of the used address range. */
  get usage(): { readonly live: number; readonly top: number; readonly capacity: number } {
    let live = 0;
    for (const size of this.sizes.values()) live += size;
    return { live, top: this.top, capacity: this.memory.buffer.byteLength };
  }

  /** A zero-filled range of at least `byteLength` bytes; its address. */
  allocate(byteLength: number, label: string): number {
    const size = Math.max(ALIGN, Math.ceil(byteLength / ALIGN) * ALIGN);
    let offset = -1;
    for (let i = 0; i < this.free.length; i++) {
      const range = this.free[i]!;
      if (range.size < size) continue;
      offset = range.offset;
      if (range.size === size) this.free.splice(i, 1);
      else {
        range.offset += size;
        range.size -= size;
      }
      break;
    }
    if (offset < 0) {
      offset = this.top;
      this.ensure(offset + size, label);
      this.top = offset + size;
    }
    new Uint8Array(this.memory.buffer, offset, size).fill(0);
    this.sizes.set(offset, size);
    return offset;
  }

  /** Returns a range to the free list; unknown addresses (a second release) are ignored. */
  release(offset: number): void {
    const size = this.sizes.get(offset);
    if (size === undefined) return;
    this.sizes.delete(offset);
    if (offset + size === this.top) {
      this.top = offset;
      // the free range just below may now end at the top too
      const last = this.free[this.free.length - 1];
      if (last && last.offset + last.size === this.top) {
        this.top = last.offset;
        this.free.pop();
      }
      return;
    }
    let i = 0;
    while (i < this.free.length && this.free[i]!.offset < offset) i++;
    const prev = this.free[i - 1];
    const next = this.free[i];
    if (prev && prev.offset + prev.size === offset) {
      prev.size += size;
      if (next && offset + size === next.offset) {
        prev.size += next.size;
        this.free.splice(i, 1);
      }
    } else if (next && offset + size === next.offset) {
      next.offset = offset;
      next.size += size;
    } else {
      this.free.splice(i, 0, { offset, size });
    }
  }

  private ensure(end: number, label: string): void {
    const have = this.memory.buffer.byteLength;
    if (end <= have) return;
    const pages = Math.ceil(end / PAGE);
    const current = have / PAGE;
    // Doubling keeps the number of growths (each detaches every view) logarithmic.
    const target = Math.min(MAX_PAGES, Math.max(pages, current * 2));
    if (pages > MAX_PAGES) throw new Error(`buffer '${label}': the WebAssembly heap would need ${end} bytes, more than the 4 GiB it can address`);
    try {
      this.memory.grow(target - current);
    } catch {
      try {
        this.memory.grow(pages - current);
      } catch (e) {
        throw new Error(`buffer '${label}': the WebAssembly heap cannot grow to ${end} bytes (${(e as Error).message})`);
      }
    }
    this.generation++;
  }
}
