// CPU reference for elementwise activations and their gradients, float64.
import { finiteNum, checkSame } from '../shape.js';
import type { HostTensor } from './tensor.js';

function map(x: HostTensor, f: (v: number) => number): HostTensor {
  return { shape: [...x.shape], data: x.data.map(f) };
}

/** out[i] = f(a[i], b[i]) for two tensors of one shape. */
function zip(op: string, a: HostTensor, b: HostTensor, names: [string, string], f: (u: number, v: number) => number): HostTensor {
  checkSame(op, a.shape, b.shape, names);
  return { shape: [...a.shape], data: a.data.map((u, i) => f(u, b.data[i]!)) };
}

export function relu(x: HostTensor): HostTensor {
  return map(x, (v) => Math.max(v, 0));
}

/**
 * dx = dy where x > 0, else 0.
 * NOTE: at x == 0 the gradient is 0 (PyTorch's choice too). Deriving it from `max(x, 0)`
 * with a tie rule would pass half or all of dy there; the GPU kernel must use `x > 0`.
 */
export function reluBackward(x: HostTensor, dy: HostTensor): HostTensor {
  return zip('reluBackward', x, dy, ['x', 'dy'], (v, d) => (v > 0 ? d : 0));
}

export function leakyRelu(x: HostTensor, alpha: number): HostTensor {
  finiteNum('leakyRelu', 'alpha', alpha);
  return map(x, (v) => (v > 0 ? v : alpha * v));
}

/** dx = dy where x > 0, alpha·dy where x <= 0 (x == 0 takes the alpha side, as in relu). */
export function leakyReluBackward(x: HostTensor, dy: HostTensor, alpha: number): HostTensor {
  finiteNum('leakyReluBackward', 'alpha', alpha);
  return zip('leakyReluBackward', x, dy, ['x', 'dy'], (v, d) => (v > 0 ? d : alpha * d));
}

/** 1 / (1 + e^-x); for very negative x, e^-x overflows to Infinity and the result is 0, as it should be. */
export function sigmoid(x: HostTensor): HostTensor {
  return map(x, (v) => 1 / (1 + Math.exp(-v)));
}

/** Takes y = sigmoid(x), the forward OUTPUT: dx = dy·y·(1 − y). */
export function sigmoidBackward(y: HostTensor, dy: HostTensor): HostTensor {
  return zip('sigmoidBackward', y, dy, ['y', 'dy'], (s, d) => d * s * (1 - s));
}

export function tanh(x: HostTensor): HostTensor {
  return map(x, Math.tanh);
}

/** Takes y = tanh(x), the forward OUTPUT: dx = dy·(1 − y²). */
export function tanhBackward(y: HostTensor, dy: HostTensor): HostTensor {
  return zip('tanhBackward', y, dy, ['y', 'dy'], (t, d) => d * (1 - t * t));
}
