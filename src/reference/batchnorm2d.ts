// BatchNorm2d, written from the math: per channel c over the N·H·W values,
// x̂ = (x − μ) / sqrt(σ² + eps), y = γ·x̂ + β, with μ and the biased σ² of the batch in
// training (and the running statistics moved towards them: unbiased σ², PyTorch's rule),
// or the running statistics in inference. running is [2, C]: means, then variances.
import { checkRank } from '../shape.js';
import { ShapeError, fmtShape } from '../errors.js';
import { hostZeros, type HostTensor } from './tensor.js';

export interface BatchNorm2dOptions {
  training: boolean;
  eps?: number;
  momentum?: number;
}

function stats(x: HostTensor): { mean: Float64Array; variance: Float64Array } {
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const s = h * w;
  const mean = new Float64Array(c);
  const variance = new Float64Array(c);
  for (let ch = 0; ch < c; ch++) {
    let sum = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < s; j++) sum += x.data[(i * c + ch) * s + j]!;
    mean[ch] = sum / (n * s);
    let sq = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < s; j++) sq += (x.data[(i * c + ch) * s + j]! - mean[ch]!) ** 2;
    variance[ch] = sq / (n * s);
  }
  return { mean, variance };
}

function check(op: string, x: HostTensor, gamma: HostTensor): void {
  checkRank(op, 'input x', x.shape, 4, 'NCHW');
  if (gamma.data.length !== x.shape[1]) throw new ShapeError(`${op}: gamma ${fmtShape(gamma.shape)} must have one value per channel of x ${fmtShape(x.shape)}.`);
}

/** Returns y, and in training the updated running statistics. */
export function batchNorm2d(
  x: HostTensor,
  gamma: HostTensor,
  beta: HostTensor,
  running: HostTensor,
  o: BatchNorm2dOptions,
): { y: HostTensor; running: HostTensor } {
  check('batchNorm2d', x, gamma);
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const eps = o.eps ?? 1e-5;
  const m = o.momentum ?? 0.1;
  const s = h * w;
  let mean: Float64Array;
  let variance: Float64Array;
  const next = { shape: [2, c], data: running.data.slice() };
  if (o.training) {
    ({ mean, variance } = stats(x));
    const count = n * s;
    for (let ch = 0; ch < c; ch++) {
      next.data[ch] = (1 - m) * running.data[ch]! + m * mean[ch]!;
      next.data[c + ch] = (1 - m) * running.data[c + ch]! + (m * variance[ch]! * count) / Math.max(count - 1, 1);
    }
  } else {
    mean = running.data.subarray(0, c);
    variance = running.data.subarray(c, 2 * c);
  }
  const y = hostZeros(x.shape);
  for (let i = 0; i < n; i++) {
    for (let ch = 0; ch < c; ch++) {
      const inv = 1 / Math.sqrt(variance[ch]! + eps);
      for (let j = 0; j < s; j++) {
        const k = (i * c + ch) * s + j;
        y.data[k] = (x.data[k]! - mean[ch]!) * inv * gamma.data[ch]! + beta.data[ch]!;
      }
    }
  }
  return { y, running: next };
}

/** Gradients of the training-mode forward (batch statistics). */
export function batchNorm2dBackward(
  x: HostTensor,
  dy: HostTensor,
  gamma: HostTensor,
  eps = 1e-5,
): { dx: HostTensor; dgamma: HostTensor; dbeta: HostTensor } {
  check('batchNorm2dBackward', x, gamma);
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const s = h * w;
  const count = n * s;
  const { mean, variance } = stats(x);
  const dx = hostZeros(x.shape);
  const dgamma = hostZeros([c]);
  const dbeta = hostZeros([c]);
  for (let ch = 0; ch < c; ch++) {
    const inv = 1 / Math.sqrt(variance[ch]! + eps);
    let sdy = 0;
    let sdyx = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < s; j++) {
        const k = (i * c + ch) * s + j;
        sdy += dy.data[k]!;
        sdyx += dy.data[k]! * (x.data[k]! - mean[ch]!) * inv;
      }
    }
    dbeta.data[ch] = sdy;
    dgamma.data[ch] = sdyx;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < s; j++) {
        const k = (i * c + ch) * s + j;
        const xhat = (x.data[k]! - mean[ch]!) * inv;
        dx.data[k] = ((gamma.data[ch]! * inv) / count) * (count * dy.data[k]! - sdy - xhat * sdyx);
      }
    }
  }
  return { dx, dgamma, dbeta };
}
