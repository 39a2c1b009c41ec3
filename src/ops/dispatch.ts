// Small helpers shared by the op wiring: grid sizes and tensor checks.
import { ShapeError, fmtShape } from '../errors.js';
import { sameShape, type Shape } from '../shape.js';
import type { Engine } from '../runtime/engine.js';
import type { Tensor } from '../runtime/tensor.js';

/** Edge of the per-invocation register tile in gemm and conv2d (WGSL needs it const: function arrays cannot be override-sized). */
export const REG_TILE = 4;

export const ceilDiv = (a: number, b: number): number => Math.ceil(a / b);

/** Workgroups for `total` invocations in groups of `wg`, as a 2-D grid when x would pass the per-dimension limit. */
export function grid1d(engine: Engine, total: number, wg: number): [number, number, number] {
  const groups = ceilDiv(total, wg);
  const max = engine.limits.maxComputeWorkgroupsPerDimension;
  if (groups <= max) return [groups, 1, 1];
  const y = ceilDiv(groups, max);
  return [ceilDiv(groups, y), y, 1];
}

/** The tensor belongs to this engine and has the expected shape. */
export function expectShape(op: string, what: string, t: Tensor, shape: Shape): void {
  if (!sameShape(t.shape, shape)) {
    throw new ShapeError(`${op}: ${what} has shape ${fmtShape(t.shape)}, expected ${fmtShape(shape)}.`);
  }
}

export function sameEngine(op: string, engine: Engine, ...ts: Tensor[]): void {
  engine.checkAlive(op);
  for (const t of ts) {
    if (t.engine !== engine) throw new ShapeError(`${op}: tensor ${fmtShape(t.shape)} belongs to another engine; move it with read() and tensor().`);
    void t.buffer; // throws DisposedError if disposed
  }
}
