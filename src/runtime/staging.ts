// Staging buffers for a plan's readbacks. A buffer can be mapped by one read at a time: a copy
// into a buffer whose map is still pending is a validation error that drops the whole submit,
// training step included. So a read that starts while another is in flight (predict() called
// again from an input event before the last one resolved) takes a buffer of its own; buffers
// come back for reuse once read, so sequential reads create none.
import type { BufferPool } from './buffer-pool.js';

export const READBACK = 0x01 | 0x08; // MAP_READ | COPY_DST

/** Maps a staging buffer (after the submit that copied into it) and copies its first `bytes` out, into `into` where given. */
export async function mapAndCopy(buf: GPUBuffer, bytes: number, into?: Float32Array): Promise<Float32Array> {
  await buf.mapAsync(GPUMapMode.READ, 0, bytes);
  // NOTE: unmap even when the copy throws (`into` detached by a transfer to a worker): a
  // buffer recycled while mapped fails the next submit that copies into it.
  try {
    const out = into ?? new Float32Array(bytes / 4);
    out.set(new Float32Array(buf.getMappedRange(0, bytes)));
    return out;
  } finally {
    buf.unmap();
  }
}

export class StagingBuffers {
  private idle: GPUBuffer[] = [];
  private closed = false;

  constructor(
    private readonly pool: BufferPool,
    readonly bytes: number,
    private readonly label: string,
  ) {
    this.idle.push(pool.acquire(bytes, READBACK, label)); // made with the plan, not by its first read
  }

  /** A buffer no read is using, for the caller's copy; give it to read() after the submit. */
  take(): GPUBuffer {
    return this.idle.pop() ?? this.pool.acquire(this.bytes, READBACK, this.label);
  }

  /** Maps the buffer (after the submit that copied into it), copies it out (into `into` where given) and recycles it. */
  async read(buf: GPUBuffer, into?: Float32Array): Promise<Float32Array> {
    try {
      return await mapAndCopy(buf, this.bytes, into);
    } finally {
      if (this.closed) this.pool.release(buf);
      else this.idle.push(buf);
    }
  }

  /** Releases the idle buffers now, and each busy one when its read ends. */
  close(): void {
    this.closed = true;
    for (const b of this.idle) this.pool.release(b);
    this.idle = [];
  }
}
