// CPU reference for one SGD step with momentum and L2 weight decay, PyTorch semantics (no dampening, no Nesterov).
import { checkSame, numIn } from '../shape.js';
import type { HostTensor } from './tensor.js';

export interface SgdOptions {
  /** Learning rate. */
  lr: number;
  /** Momentum factor. Default 0 (plain SGD). */
  momentum?: number;
  /** L2 penalty added to the gradient. Default 0. */
  weightDecay?: number;
}

/** g = grad + wd·param; v = momentum·v + g; param = param − lr·v. Returns new tensors. */
export function sgdStep(
  param: HostTensor,
  grad: HostTensor,
  velocity: HostTensor,
  o: SgdOptions,
): { param: HostTensor; velocity: HostTensor } {
  checkSame('sgdStep', param.shape, grad.shape, ['param', 'grad']);
  checkSame('sgdStep', param.shape, velocity.shape, ['param', 'velocity']);
  const lr = numIn('sgdStep', 'lr', o.lr, 0);
  const momentum = numIn('sgdStep', 'momentum', o.momentum ?? 0, 0);
  const wd = numIn('sgdStep', 'weightDecay', o.weightDecay ?? 0, 0);
  const v = new Float64Array(param.data.length);
  const p = new Float64Array(param.data.length);
  for (let i = 0; i < v.length; i++) {
    v[i] = momentum * velocity.data[i]! + grad.data[i]! + wd * param.data[i]!;
    p[i] = param.data[i]! - lr * v[i]!;
  }
  return { param: { shape: [...param.shape], data: p }, velocity: { shape: [...param.shape], data: v } };
}
