// CPU reference for one Adam step (Kingma & Ba, with bias correction; weight decay as L2 on the gradient, not AdamW).
import { checkSame, numIn, posInt } from '../shape.js';
import type { HostTensor } from './tensor.js';

export interface AdamOptions {
  /** Learning rate. */
  lr: number;
  /** Decay of the first moment. Default 0.9. */
  beta1?: number;
  /** Decay of the second moment. Default 0.999. */
  beta2?: number;
  /** Added to sqrt(v̂) in the denominator. Default 1e-8. */
  eps?: number;
  /** L2 penalty added to the gradient. Default 0. */
  weightDecay?: number;
  /** 1-based step number, for bias correction. */
  step: number;
}

/**
 * g = grad + wd·param; m = β1·m + (1 − β1)·g; v = β2·v + (1 − β2)·g²;
 * m̂ = m / (1 − β1^t); v̂ = v / (1 − β2^t); param = param − lr·m̂ / (sqrt(v̂) + eps).
 */
export function adamStep(
  param: HostTensor,
  grad: HostTensor,
  m: HostTensor,
  v: HostTensor,
  o: AdamOptions,
): { param: HostTensor; m: HostTensor; v: HostTensor } {
  checkSame('adamStep', param.shape, grad.shape, ['param', 'grad']);
  checkSame('adamStep', param.shape, m.shape, ['param', 'm']);
  checkSame('adamStep', param.shape, v.shape, ['param', 'v']);
  const lr = numIn('adamStep', 'lr', o.lr, 0);
  const b1 = numIn('adamStep', 'beta1', o.beta1 ?? 0.9, 0, 1);
  const b2 = numIn('adamStep', 'beta2', o.beta2 ?? 0.999, 0, 1);
  const eps = numIn('adamStep', 'eps', o.eps ?? 1e-8, 0);
  const wd = numIn('adamStep', 'weightDecay', o.weightDecay ?? 0, 0);
  const t = posInt('adamStep', 'step', o.step);
  const [m2, v2, p2] = [new Float64Array(param.data.length), new Float64Array(param.data.length), new Float64Array(param.data.length)];
  for (let i = 0; i < p2.length; i++) {
    const g = grad.data[i]! + wd * param.data[i]!;
    m2[i] = b1 * m.data[i]! + (1 - b1) * g;
    v2[i] = b2 * v.data[i]! + (1 - b2) * g * g;
    const mHat = m2[i]! / (1 - b1 ** t);
    const vHat = v2[i]! / (1 - b2 ** t);
    p2[i] = param.data[i]! - (lr * mHat) / (Math.sqrt(vHat) + eps);
  }
  const shape = [...param.shape];
  return { param: { shape, data: p2 }, m: { shape: [...shape], data: m2 }, v: { shape: [...shape], data: v2 } };
}
