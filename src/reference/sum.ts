// CPU reference for summing over one axis, float64.
import { AttributeError, ShapeError, fmtShape } from '../errors.js';
import { sameShape, sizeOf } from '../shape.js';
import { hostZeros, type HostTensor } from './tensor.js';

/**
 * Views the shape as [outer, len, inner] around `axis` (negative counts from the end).
 * out[o, i] = Σ_a x[o, a, i]; the result drops the axis, and a rank-1 input gives [1].
 */
function split(op: string, shape: readonly number[], axis: number) {
  const r = shape.length;
  if (!Number.isInteger(axis) || axis < -r || axis >= r) {
    throw new AttributeError(`${op}: axis ${axis} is out of range for shape ${fmtShape(shape)}; use an integer in [${-r}, ${r}).`);
  }
  const ax = axis < 0 ? axis + r : axis;
  const outShape = shape.filter((_, i) => i !== ax);
  return {
    outer: sizeOf(shape.slice(0, ax)),
    len: shape[ax]!,
    inner: sizeOf(shape.slice(ax + 1)),
    outShape: outShape.length === 0 ? [1] : outShape,
  };
}

export function sum(x: HostTensor, axis: number): HostTensor {
  const { outer, len, inner, outShape } = split('sum', x.shape, axis);
  const y = hostZeros(outShape);
  for (let o = 0; o < outer; o++) {
    for (let a = 0; a < len; a++) {
      for (let i = 0; i < inner; i++) y.data[o * inner + i] += x.data[(o * len + a) * inner + i]!;
    }
  }
  return y;
}

/** dx[o, a, i] = dy[o, i]: every summed element gets the whole gradient. */
export function sumBackward(dy: HostTensor, xShape: number[], axis: number): HostTensor {
  const { outer, len, inner, outShape } = split('sumBackward', xShape, axis);
  if (!sameShape(dy.shape, outShape)) {
    throw new ShapeError(`sumBackward: dy ${fmtShape(dy.shape)} must be ${fmtShape(outShape)}, x ${fmtShape(xShape)} without axis ${axis}.`);
  }
  const dx = hostZeros(xShape);
  for (let o = 0; o < outer; o++) {
    for (let a = 0; a < len; a++) {
      for (let i = 0; i < inner; i++) dx.data[(o * len + a) * inner + i] = dy.data[o * inner + i]!;
    }
  }
  return dx;
}
