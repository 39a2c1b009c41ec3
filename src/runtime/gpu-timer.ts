// Times GPU work: `timestamp-query` around one compute pass where the device has it,
// else the wall time from submit to onSubmittedWorkDone (which includes submit overhead).
import type { Dispatch, Engine } from './engine.js';

export interface Timing {
  ms: number;
  source: 'timestamp' | 'wall';
}

export class GpuTimer {
  private querySet: GPUQuerySet | null = null;
  private resolve: GPUBuffer | null = null;
  private readback: GPUBuffer | null = null;

  constructor(private readonly engine: Engine) {
    if (engine.hasTimestamps) {
      const d = engine.device;
      this.querySet = d.createQuerySet({ type: 'timestamp', count: 2 });
      this.resolve = d.createBuffer({ size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
      this.readback = d.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    }
  }

  /** Runs the dispatches in one pass and returns how long the GPU took. */
  async time(ds: Dispatch[]): Promise<Timing> {
    const e = this.engine;
    const { t0, uniforms } = await e.submitCompiled(ds, (pipes) => {
      const enc = e.device.createCommandEncoder();
      const uniforms = e.record(enc, ds, pipes, this.querySet ? { timestampWrites: { querySet: this.querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } } : {});
      if (this.querySet) {
        enc.resolveQuerySet(this.querySet, 0, 2, this.resolve!, 0);
        enc.copyBufferToBuffer(this.resolve!, 0, this.readback!, 0, 16);
      }
      const t0 = performance.now();
      e.device.queue.submit([enc.finish()]);
      return { t0, uniforms };
    });
    await e.device.queue.onSubmittedWorkDone();
    const wall = performance.now() - t0;
    for (const u of uniforms) e.pool.release(u);
    if (!this.querySet) return { ms: wall, source: 'wall' };
    await this.readback!.mapAsync(GPUMapMode.READ);
    const [a, b] = new BigUint64Array(this.readback!.getMappedRange().slice(0));
    this.readback!.unmap();
    const ns = Number(b! - a!);
    // Some drivers report 0 or garbage for passes they split; fall back to wall time then.
    return ns > 0 && ns / 1e6 < wall * 10 ? { ms: ns / 1e6, source: 'timestamp' } : { ms: wall, source: 'wall' };
  }

  /**
   * The dispatches' GPU time one by one, each in a pass of its own between two timestamps (where
   * an op's time goes: an im2col against its GEMM, say); null where the device has no timestamps,
   * or where a pass ends before it begins (drivers that report garbage: see `time()`). The sum is
   * a run of its own, so it need not match a `time()` taken at another moment.
   */
  async timeEach(ds: Dispatch[]): Promise<Array<{ kernel: string; ms: number }> | null> {
    const e = this.engine;
    if (!this.querySet) return null;
    const count = 2 * ds.length;
    const querySet = e.device.createQuerySet({ type: 'timestamp', count });
    const resolve = e.device.createBuffer({ size: count * 8, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    const readback = e.device.createBuffer({ size: count * 8, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    let uniforms: GPUBuffer[] = [];
    try {
      uniforms = await e.submitCompiled(ds, (pipes) => {
        const enc = e.device.createCommandEncoder();
        const us = ds.flatMap((d, i) => e.record(enc, [d], [pipes[i]!], { timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } }));
        enc.resolveQuerySet(querySet, 0, count, resolve, 0);
        enc.copyBufferToBuffer(resolve, 0, readback, 0, count * 8);
        e.device.queue.submit([enc.finish()]);
        return us;
      });
      await readback.mapAsync(GPUMapMode.READ);
      const t = new BigUint64Array(readback.getMappedRange().slice(0));
      readback.unmap();
      if (ds.some((_, i) => t[2 * i + 1]! < t[2 * i]!)) return null;
      return ds.map((d, i) => ({ kernel: d.kernel.name, ms: Number(t[2 * i + 1]! - t[2 * i]!) / 1e6 }));
    } finally {
      for (const u of uniforms) e.pool.release(u);
      querySet.destroy();
      resolve.destroy();
      readback.destroy();
    }
  }

  destroy(): void {
    this.querySet?.destroy();
    this.resolve?.destroy();
    this.readback?.destroy();
  }
}
