// Times GPU work: `timestamp-query` around compute passes where the device has it, else the
// wall time from submit to onSubmittedWorkDone (which includes submit overhead).
import type { Dispatch, Engine } from './engine.js';

export interface Timing {
  ms: number;
  source: 'timestamp' | 'wall';
}

/**
 * Begin and end timestamps for `n` compute passes, and their read back: the query set and
 * buffers GpuTimer and TrainPlan.profile share. Record pass i with `writes(i)`, then `resolve`
 * into the same encoder, submit, and `read`.
 */
export class PassTimestamps {
  private readonly querySet: GPUQuerySet;
  private readonly resolved: GPUBuffer;
  private readonly readback: GPUBuffer;

  constructor(
    device: GPUDevice,
    private readonly n: number,
  ) {
    this.querySet = device.createQuerySet({ type: 'timestamp', count: 2 * n });
    this.resolved = device.createBuffer({ size: 16 * n, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    this.readback = device.createBuffer({ size: 16 * n, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  }

  writes(i: number): GPUComputePassTimestampWrites {
    return { querySet: this.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 };
  }

  /** Appends the copy of the timestamps to the encoder, after the passes. */
  resolve(enc: GPUCommandEncoder): void {
    enc.resolveQuerySet(this.querySet, 0, 2 * this.n, this.resolved, 0);
    enc.copyBufferToBuffer(this.resolved, 0, this.readback, 0, 16 * this.n);
  }

  /**
   * Each pass's milliseconds, after the submit; null where a pass ends before it begins (some
   * drivers report garbage for passes they split).
   */
  async read(): Promise<number[] | null> {
    await this.readback.mapAsync(GPUMapMode.READ);
    const t = new BigUint64Array(this.readback.getMappedRange().slice(0));
    this.readback.unmap();
    const ms = Array.from({ length: this.n }, (_, i) => Number(t[2 * i + 1]! - t[2 * i]!) / 1e6);
    return ms.some((v) => v < 0) ? null : ms;
  }

  destroy(): void {
    this.querySet.destroy();
    this.resolved.destroy();
    this.readback.destroy();
  }
}

export class GpuTimer {
  private readonly stamps: PassTimestamps | null;

  constructor(private readonly engine: Engine) {
    this.stamps = engine.hasTimestamps ? new PassTimestamps(engine.device, 1) : null;
  }

  /** Runs the dispatches in one pass and returns how long the GPU took. */
  async time(ds: Dispatch[]): Promise<Timing> {
    const e = this.engine;
    const { t0, uniforms } = await e.submitCompiled(ds, (pipes) => {
      const enc = e.device.createCommandEncoder();
      const uniforms = e.record(enc, ds, pipes, this.stamps ? { timestampWrites: this.stamps.writes(0) } : {});
      this.stamps?.resolve(enc);
      const t0 = performance.now();
      e.device.queue.submit([enc.finish()]);
      return { t0, uniforms };
    });
    await e.device.queue.onSubmittedWorkDone();
    const wall = performance.now() - t0;
    for (const u of uniforms) e.pool.release(u);
    const ms = this.stamps ? (await this.stamps.read())?.[0] : undefined;
    // Some drivers report 0 or garbage for passes they split; fall back to wall time then.
    return ms !== undefined && ms > 0 && ms < wall * 10 ? { ms, source: 'timestamp' } : { ms: wall, source: 'wall' };
  }

  /**
   * The dispatches' GPU time one by one, each in a pass of its own between two timestamps (where
   * an op's time goes: an im2col against its GEMM, say); null where the device has no timestamps,
   * or where a pass ends before it begins. The sum is a run of its own, so it need not match a
   * `time()` taken at another moment.
   */
  async timeEach(ds: Dispatch[]): Promise<Array<{ kernel: string; ms: number }> | null> {
    const e = this.engine;
    if (!this.stamps) return null;
    const stamps = new PassTimestamps(e.device, ds.length);
    let uniforms: GPUBuffer[] = [];
    try {
      uniforms = await e.submitCompiled(ds, (pipes) => {
        const enc = e.device.createCommandEncoder();
        const us = ds.flatMap((d, i) => e.record(enc, [d], [pipes[i]!], { timestampWrites: stamps.writes(i) }));
        stamps.resolve(enc);
        e.device.queue.submit([enc.finish()]);
        return us;
      });
      const ms = await stamps.read();
      return ms && ds.map((d, i) => ({ kernel: d.kernel.name, ms: ms[i]! }));
    } finally {
      for (const u of uniforms) e.pool.release(u);
      stamps.destroy();
    }
  }

  destroy(): void {
    this.stamps?.destroy();
  }
}
