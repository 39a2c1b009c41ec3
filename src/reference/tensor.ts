// Host tensors for the CPU reference: float64, row-major (NCHW for images).
import { ShapeError, fmtShape } from '../errors.js';
import { checkShape, sizeOf, type Shape } from '../shape.js';

export interface HostTensor {
  shape: number[];
  data: Float64Array;
}

export function host(data: ArrayLike<number>, shape: Shape): HostTensor {
  checkShape('tensor', 'tensor', shape);
  if (data.length !== sizeOf(shape)) {
    throw new ShapeError(`tensor: ${data.length} values do not fill shape ${fmtShape(shape)} (${sizeOf(shape)} values).`);
  }
  return { shape: [...shape], data: Float64Array.from(data) };
}

export function hostZeros(shape: Shape): HostTensor {
  return { shape: [...shape], data: new Float64Array(sizeOf(shape)) };
}
