// CPU reference for global average pooling: [N, C, H, W] → [N, C], the mean over H×W.
import { ShapeError, fmtShape } from '../errors.js';
import { checkRank, sameShape } from '../shape.js';
import { hostZeros, type HostTensor } from './tensor.js';

export function globalAvgPool(x: HostTensor): HostTensor {
  checkRank('globalAvgPool', 'input x', x.shape, 4, 'NCHW');
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const y = hostZeros([n, c]);
  for (let i = 0; i < n * c; i++) {
    let acc = 0;
    for (let p = 0; p < h * w; p++) acc += x.data[i * h * w + p]!;
    y.data[i] = acc / (h * w);
  }
  return y;
}

/** dx[n, c, h, w] = dy[n, c] / (H·W). */
export function globalAvgPoolBackward(dy: HostTensor, xShape: number[]): HostTensor {
  checkRank('globalAvgPoolBackward', 'input x', xShape, 4, 'NCHW');
  const [n, c, h, w] = xShape as [number, number, number, number];
  if (!sameShape(dy.shape, [n, c])) {
    throw new ShapeError(`globalAvgPoolBackward: dy ${fmtShape(dy.shape)} must be [N, C] = ${fmtShape([n, c])} for x ${fmtShape(xShape)}.`);
  }
  const dx = hostZeros(xShape);
  for (let i = 0; i < n * c; i++) {
    for (let p = 0; p < h * w; p++) dx.data[i * h * w + p] = dy.data[i]! / (h * w);
  }
  return dx;
}
