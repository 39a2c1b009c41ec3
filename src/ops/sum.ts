// Sum over one axis (bias gradients of dense layers, split-K reductions).
import sumWgsl from '../../shaders/elementwise/sum.wgsl?raw';
import { AttributeError, fmtShape } from '../errors.js';
import type { Binding, Dispatch, Engine } from '../runtime/engine.js';
import { Params } from '../runtime/engine.js';
import type { Tensor } from '../runtime/tensor.js';
import { type Shape } from '../shape.js';
import { grid1d, runInto, sameEngine } from './dispatch.js';

export const sumKernel = { name: 'sum', code: sumWgsl };

/** The [outer, len, inner] view of `shape` around `axis`, and the output shape. */
export function sumGeom(shape: Shape, axis: number, op = 'sum'): { outer: number; len: number; inner: number; outShape: number[] } {
  const r = shape.length;
  if (!Number.isInteger(axis) || axis < -r || axis >= r) {
    throw new AttributeError(`${op}: axis ${axis} is out of range for shape ${fmtShape(shape)} (rank ${r}); use an integer in [${-r}, ${r}).`);
  }
  const ax = axis < 0 ? axis + r : axis;
  const outer = shape.slice(0, ax).reduce((p, d) => p * d, 1);
  const inner = shape.slice(ax + 1).reduce((p, d) => p * d, 1);
  const outShape = shape.filter((_, i) => i !== ax);
  return { outer, len: shape[ax]!, inner, outShape: outShape.length ? outShape : [1] };
}

export function sumAxisDispatch(engine: Engine, x: Binding, y: Binding, outer: number, len: number, inner: number): Dispatch {
  const WG = engine.tuning.pointwise;
  return {
    kernel: sumKernel,
    constants: { WG },
    buffers: [x, y],
    params: new Params().u32(outer, len, inner).buffer(),
    workgroups: grid1d(engine, outer * inner, WG),
  };
}

export async function sum(engine: Engine, x: Tensor, axis: number): Promise<Tensor> {
  const g = sumGeom(x.shape, axis);
  sameEngine('sum', engine, x);
  const y = engine.empty(g.outShape, 'sum');
  await runInto(engine, 'sum', [y], sumAxisDispatch(engine, x.buffer, y.buffer, g.outer, g.len, g.inner));
  return y;
}
