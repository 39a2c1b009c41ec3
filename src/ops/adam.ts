// Adam, in place over a flat range of parameters.
import wgsl from '../../shaders/optim/adam.wgsl?raw';
import { AttributeError } from '../errors.js';
import type { Binding, Dispatch, Engine } from '../runtime/engine.js';
import { Params } from '../runtime/engine.js';
import type { Tensor } from '../runtime/tensor.js';
import { checkDistinct, checkSame, numIn } from '../shape.js';
import { pointwiseDispatch, sameEngine } from './dispatch.js';

export const adamKernel = { name: 'adam', code: wgsl };

export interface AdamOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  /** 1-based step count, for the bias corrections. */
  step: number;
}

/** The settings with defaults, each in PyTorch's range; `prefix` goes before each name in an error ("optimizer beta1"). */
export function checkAdam(o: AdamOptions, op = 'adam', prefix = ''): Required<AdamOptions> {
  if (!Number.isInteger(o.step) || o.step < 1) throw new AttributeError(`${op}: step must be an integer ≥ 1 (1-based), got ${o.step}.`);
  return {
    lr: numIn(op, `${prefix}lr`, o.lr, 0),
    beta1: numIn(op, `${prefix}beta1`, o.beta1 ?? 0.9, 0, 1),
    beta2: numIn(op, `${prefix}beta2`, o.beta2 ?? 0.999, 0, 1),
    eps: numIn(op, `${prefix}eps`, o.eps ?? 1e-8, 0),
    weightDecay: numIn(op, `${prefix}weightDecay`, o.weightDecay ?? 0, 0),
    step: o.step,
  };
}

export function adamDispatch(engine: Engine, total: number, grad: Binding, param: Binding, m: Binding, v: Binding, o: AdamOptions): Dispatch {
  const c = checkAdam(o);
  return pointwiseDispatch(engine, adamKernel, total, [grad, param, m, v], {}, (per) =>
    new Params()
      .u32(total / per)
      .f32(c.lr, c.beta1, c.beta2, c.eps, c.weightDecay, 1 - c.beta1 ** c.step, 1 - c.beta2 ** c.step)
      .buffer(),
  );
}

/** Updates param, m and v in place. */
export async function adamStep(engine: Engine, param: Tensor, grad: Tensor, m: Tensor, v: Tensor, o: AdamOptions): Promise<void> {
  const op = 'adamStep';
  checkAdam(o, op);
  sameEngine(op, engine, param, grad, m, v);
  for (const [name, t] of [['grad', grad], ['m', m], ['v', v]] as const) checkSame(op, param.shape, t.shape, ['param', name]);
  checkDistinct(op, [['param', param], ['grad', grad], ['m', m], ['v', v]]);
  await engine.run(adamDispatch(engine, param.size, grad.buffer, param.buffer, m.buffer, v.buffer, o));
}
