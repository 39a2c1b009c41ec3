import { DisposedError, fmtShape } from '../errors.js';
import { sizeOf } from '../shape.js';
import type { Engine } from './engine.js';

/** An f32 tensor on the GPU, row-major (NCHW for images), backed by a pooled buffer. */
export class Tensor {
  readonly size: number;
  private buf: GPUBuffer | null;

  constructor(
    readonly engine: Engine,
    readonly shape: readonly number[],
    buffer: GPUBuffer,
  ) {
    this.size = sizeOf(shape);
    this.buf = buffer;
  }

  get byteSize(): number {
    return this.size * 4;
  }

  get isDisposed(): boolean {
    return this.buf === null;
  }

  get buffer(): GPUBuffer {
    this.checkAlive();
    return this.buf!;
  }

  /** Throws DisposedError, prefixed by `op`, if the tensor was disposed. */
  checkAlive(op?: string): void {
    if (this.buf) return;
    // Without async tracking, a scope that overlapped another in time may have freed it.
    const overlap = this.engine.scopesFollowAsync ? '' : ' engine.scope calls must nest here: await one before starting another outside it.';
    throw new DisposedError(
      `${op ? `${op}: ` : ''}tensor ${fmtShape(this.shape)} was used after dispose(); keep it alive (engine.keep / return it from the scope) until its last use.${overlap}`,
    );
  }

  /** The values; `into` (exactly `size` long) is filled and returned instead of a new array. */
  read(into?: Float32Array): Promise<Float32Array> {
    return this.engine.read(this, into);
  }

  dispose(): void {
    if (!this.buf) throw new DisposedError(`tensor ${fmtShape(this.shape)} was disposed twice; dispose each tensor once.`);
    const b = this.buf;
    this.buf = null;
    this.engine.releaseTensor(this, b);
  }
}
