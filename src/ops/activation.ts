// Pointwise activations: ReLU, leaky ReLU, sigmoid, tanh, forward and backward.
import bwdWgsl from '../../shaders/activation/activation.bwd.wgsl?raw';
import fwdWgsl from '../../shaders/activation/activation.fwd.wgsl?raw';
import type { Binding, Dispatch, Engine } from '../runtime/engine.js';
import { Params } from '../runtime/engine.js';
import type { Tensor } from '../runtime/tensor.js';
import { finiteNum } from '../shape.js';
import { pointwiseDispatch, runInto, sameEngine } from './dispatch.js';
import { checkSame } from '../shape.js';

export const activationKernels = {
  fwd: { name: 'activation.fwd', code: fwdWgsl },
  bwd: { name: 'activation.bwd', code: bwdWgsl },
};

export type Activation = 'relu' | 'leakyRelu' | 'sigmoid' | 'tanh';
/** The OP override constant of activation.{fwd,bwd}.wgsl. */
export const ACTIVATION_OP: Record<Activation, number> = { relu: 0, leakyRelu: 1, sigmoid: 2, tanh: 3 };
/** Whether the backward pass reads the forward input (else the forward output). */
export const BACKWARD_USES_INPUT: Record<Activation, boolean> = { relu: true, leakyRelu: true, sigmoid: false, tanh: false };

export function activationFwdDispatch(engine: Engine, kind: Activation, total: number, x: Binding, y: Binding, alpha = 0): Dispatch {
  return pointwiseDispatch(engine, activationKernels.fwd, total, [x, y], { OP: ACTIVATION_OP[kind] }, (per) => new Params().u32(total / per).f32(alpha).buffer());
}

/** `t` is x for relu/leakyRelu and y for sigmoid/tanh (see BACKWARD_USES_INPUT). */
export function activationBwdDispatch(engine: Engine, kind: Activation, total: number, t: Binding, dy: Binding, dx: Binding, alpha = 0): Dispatch {
  return pointwiseDispatch(engine, activationKernels.bwd, total, [t, dy, dx], { OP: ACTIVATION_OP[kind] }, (per) => new Params().u32(total / per).f32(alpha).buffer());
}

export async function activation(engine: Engine, kind: Activation, x: Tensor, alpha = 0): Promise<Tensor> {
  if (kind === 'leakyRelu') finiteNum(kind, 'alpha', alpha);
  sameEngine(kind, engine, x);
  const y = engine.empty(x.shape, kind);
  await runInto(engine, kind, [y], activationFwdDispatch(engine, kind, x.size, x.buffer, y.buffer, alpha));
  return y;
}

export async function activationBackward(engine: Engine, kind: Activation, t: Tensor, dy: Tensor, alpha = 0): Promise<Tensor> {
  const op = `${kind}Backward`;
  if (kind === 'leakyRelu') finiteNum(op, 'alpha', alpha);
  sameEngine(op, engine, t, dy);
  checkSame(op, t.shape, dy.shape, [BACKWARD_USES_INPUT[kind] ? 'x' : 'y', 'dy']);
  const dx = engine.empty(t.shape, op);
  await runInto(engine, op, [dx], activationBwdDispatch(engine, kind, t.size, t.buffer, dy.buffer, dx.buffer, alpha));
  return dx;
}
