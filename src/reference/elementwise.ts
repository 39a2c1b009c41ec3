// CPU reference for elementwise arithmetic on tensors of one shape (no broadcasting), float64.
import { checkSame, finiteNum } from '../shape.js';
import type { HostTensor } from './tensor.js';

function zip(op: string, a: HostTensor, b: HostTensor, f: (u: number, v: number) => number): HostTensor {
  checkSame(op, a.shape, b.shape);
  return { shape: [...a.shape], data: a.data.map((u, i) => f(u, b.data[i]!)) };
}

export function add(a: HostTensor, b: HostTensor): HostTensor {
  return zip('add', a, b, (u, v) => u + v);
}

export function mul(a: HostTensor, b: HostTensor): HostTensor {
  return zip('mul', a, b, (u, v) => u * v);
}

export function scale(a: HostTensor, s: number): HostTensor {
  finiteNum('scale', 's', s);
  return { shape: [...a.shape], data: a.data.map((u) => u * s) };
}

/** y = a ⊙ b: da = dy ⊙ b, db = dy ⊙ a. */
export function mulBackward(a: HostTensor, b: HostTensor, dy: HostTensor): { da: HostTensor; db: HostTensor } {
  checkSame('mulBackward', a.shape, b.shape);
  checkSame('mulBackward', a.shape, dy.shape, ['a', 'dy']);
  return { da: zip('mulBackward', dy, b, (d, v) => d * v), db: zip('mulBackward', dy, a, (d, u) => d * u) };
}
