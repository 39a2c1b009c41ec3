// One error class per kind of failure, each naming the op, the shapes and the fix.

export class ConvGpuError extends Error {
  override name = 'ConvGpuError';
}

/** Operand shapes that do not fit together, or a shape with bad sizes. */
export class ShapeError extends ConvGpuError {
  override name = 'ShapeError';
}

/** An attribute (stride, padding, groups, …) that is out of range or not an integer. */
export class AttributeError extends ConvGpuError {
  override name = 'AttributeError';
}

/** Data that is not finite where finite data is required. */
export class NonFiniteError extends ConvGpuError {
  override name = 'NonFiniteError';
}

/** A tensor or dispatch larger than the device allows. */
export class DeviceLimitError extends ConvGpuError {
  override name = 'DeviceLimitError';
}

/** A tensor used after dispose(), or disposed twice. */
export class DisposedError extends ConvGpuError {
  override name = 'DisposedError';
}

/** No WebGPU adapter could be had, or the device was lost or destroyed. */
export class DeviceError extends ConvGpuError {
  override name = 'DeviceError';
}

export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}
