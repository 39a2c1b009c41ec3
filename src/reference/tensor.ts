// Host tensors for the CPU reference: float64, row-major (NCHW for images).
import { DeviceLimitError, ShapeError, fmtShape } from '../errors.js';
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
  const n = sizeOf(shape);
  try {
    return { shape: [...shape], data: new Float64Array(n) };
  } catch (e) {
    // An output shape an attribute made absurd (a padding of 1e9): say so, not "Invalid typed array length".
    if (!(e instanceof RangeError)) throw e;
    throw new DeviceLimitError(
      `CPU reference: a tensor ${fmtShape(shape)} (${n.toExponential(2)} values) is more than it can allocate; it is a float64 reference for checks at small sizes, so use smaller inputs or attributes.`,
    );
  }
}
